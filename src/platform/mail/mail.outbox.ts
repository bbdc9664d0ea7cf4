import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { newId } from '../../ids.js';
import type { Mailer, OutgoingMail } from './mail.port.js';

/**
 * The embedded default: each mail is built exactly as SMTP would send it (nodemailer's
 * stream transport) and written as `<time>-<id>.eml` into the outbox directory.
 */
export class OutboxMailer implements Mailer {
  readonly kind = 'outbox' as const;
  private readonly transport: Transporter;

  constructor(
    private readonly dir: string,
    private readonly from: string,
  ) {
    this.transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  }

  async send(mail: OutgoingMail): Promise<{ messageId: string }> {
    const info = (await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, headers: mail.headers ?? {} })) as { messageId: string; message: Buffer };
    await mkdir(this.dir, { recursive: true });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${newId()}.eml`;
    // Written under a dot name then renamed, so a reader of *.eml never sees half a mail.
    await writeFile(join(this.dir, `.${name}`), info.message);
    await rename(join(this.dir, `.${name}`), join(this.dir, name));
    return { messageId: info.messageId };
  }

  async ping(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async close(): Promise<void> {}
}
