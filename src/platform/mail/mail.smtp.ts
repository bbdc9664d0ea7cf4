import nodemailer, { type Transporter } from 'nodemailer';
import type { Mailer, OutgoingMail } from './mail.port.js';

export interface SmtpOptions {
  url: string;
  from: string;
  requireTls: boolean;
  rejectUnauthorized: boolean;
  ca?: string;
}

/** SMTP through nodemailer (pooled connections). */
export class SmtpMailer implements Mailer {
  readonly kind = 'smtp' as const;
  private readonly transport: Transporter;

  constructor(private readonly opts: SmtpOptions) {
    const u = new URL(opts.url);
    this.transport = nodemailer.createTransport({
      host: u.hostname,
      port: Number(u.port) || (u.protocol === 'smtps:' ? 465 : 587),
      secure: u.protocol === 'smtps:',
      requireTLS: opts.requireTls,
      pool: true,
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      tls: { rejectUnauthorized: opts.rejectUnauthorized, ...(opts.ca ? { ca: opts.ca } : {}) },
    });
  }

  async send(mail: OutgoingMail): Promise<{ messageId: string }> {
    const info = await this.transport.sendMail({ from: this.opts.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, headers: mail.headers ?? {} });
    return { messageId: info.messageId };
  }

  async ping(): Promise<void> {
    await this.transport.verify();
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
