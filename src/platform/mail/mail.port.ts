/**
 * The mail port: SMTP (nodemailer) in the full stack, `.eml` files in an outbox
 * directory in the embedded profile. `send` resolves once the server accepted the mail
 * (or the file is written).
 */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers (List-Unsubscribe…). */
  headers?: Record<string, string>;
}

export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
