import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Mailer } from './mail.port.js';

/** Chooses the mailer once at boot: SMTP when SMTP_URL is set, else the outbox directory. */
export async function openMailer(config: Config, logger: Logger): Promise<Mailer> {
  if (config.SMTP_URL) {
    let ca: string | undefined;
    if (config.SMTP_CA_FILE) {
      try {
        ca = readFileSync(config.SMTP_CA_FILE, 'utf8');
      } catch (err) {
        throw new ConfigError([`SMTP_CA_FILE: cannot read ${config.SMTP_CA_FILE}: ${(err as Error).message}`]);
      }
    }
    const { SmtpMailer } = await import('./mail.smtp.js');
    logger.info({ host: new URL(config.SMTP_URL).host }, 'mail: SMTP');
    return new SmtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM, requireTls: config.SMTP_REQUIRE_TLS, rejectUnauthorized: config.SMTP_TLS_REJECT_UNAUTHORIZED, ...(ca ? { ca } : {}) });
  }
  const { OutboxMailer } = await import('./mail.outbox.js');
  const dir = join(config.DATA_DIR, 'mail', 'outbox');
  logger.info({ dir }, 'mail: .eml files in the outbox directory');
  return new OutboxMailer(dir, config.MAIL_FROM);
}

export type { Mailer, OutgoingMail } from './mail.port.js';
