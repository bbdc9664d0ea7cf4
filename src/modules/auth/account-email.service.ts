import { createHash, randomBytes } from 'node:crypto';
import { invalid } from '../../errors.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { KeyValueStore } from '../../platform/kv/index.js';
import type { Mailer } from '../../platform/mail/index.js';
import type { SqlDatabase } from '../../platform/sql/index.js';
import type { AuthService } from './auth.service.js';
import { RateLimiter } from './rate-limiter.js';

type Purpose = 'password_reset' | 'email_verify';

export interface AccountEmailDeps {
  db: SqlDatabase;
  kv: KeyValueStore;
  auth: AuthService;
  mailer: Mailer;
  config: Config;
  publicBaseUrl: () => string;
  logger: Logger;
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Links sent by email that act on an account: password reset (single use, expiring,
 * revokes every session) and email verification (a flag; login works without it). Only
 * a hash of each token is stored.
 */
export class AccountEmailService {
  private readonly limiter: RateLimiter;

  constructor(private readonly d: AccountEmailDeps) {
    this.limiter = new RateLimiter(d.kv);
  }

  private async issue(purpose: Purpose, userId: string, emailLower: string, ttlSeconds: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.d.db.query('INSERT INTO account_email_tokens (token_hash, purpose, user_id, email_lower, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      hash(token),
      purpose,
      userId,
      emailLower,
      new Date(Date.now() + ttlSeconds * 1000),
    ]);
    return token;
  }

  /** Spends a token: resolves its user once, never twice, and only before it expires. */
  private async spend(purpose: Purpose, token: string): Promise<{ user_id: string; email_lower: string } | null> {
    const { rows } = await this.d.db.query<{ user_id: string; email_lower: string }>(
      `UPDATE account_email_tokens SET used_at = now()
        WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
        RETURNING user_id, email_lower`,
      [hash(token), purpose],
    );
    return rows[0] ?? null;
  }

  /**
   * POST /v1/auth/password/forgot: always resolves the same way whether or not the
   * address has an account (the mail is sent in the background, so timing does not tell
   * either). Limited per client address (429) and per email address (silently).
   */
  async forgotPassword(email: string, ip: string): Promise<void> {
    const limit = this.d.config.RATE_LIMIT_PASSWORD_FORGOT;
    await this.limiter.hit(`pwforgot:ip:${ip}`, limit, 'password reset requests from this address');
    const emailLower = email.trim().toLowerCase();
    const { count } = await this.d.kv.incrWindow(`rl:pwforgot:email:${emailLower}`, limit.windowSeconds);
    if (count > limit.max) return;
    void this.sendReset(emailLower).catch((err: unknown) => this.d.logger.warn({ err }, 'password reset mail failed'));
  }

  private async sendReset(emailLower: string): Promise<void> {
    const { rows } = await this.d.db.query<{ id: string; email: string; display_name: string }>('SELECT id, email, display_name FROM users WHERE email_lower = $1', [emailLower]);
    const user = rows[0];
    if (!user) return;
    const ttl = this.d.config.PASSWORD_RESET_TTL;
    const token = await this.issue('password_reset', user.id, emailLower, ttl);
    const link = `${this.d.publicBaseUrl()}/v1/auth/password/reset?token=${token}`;
    const minutes = Math.round(ttl / 60);
    await this.d.mailer.send({
      to: user.email,
      subject: 'Reset your Parley password',
      text: `Hi ${user.display_name},\n\nSomeone (hopefully you) asked to reset your Parley password. Open this link within ${minutes} minutes to choose a new one:\n\n${link}\n\nIt works once. Setting a new password signs you out everywhere.\nIf you did not ask for this, ignore this email.\n`,
      html: `<p>Hi ${escapeHtml(user.display_name)},</p><p>Someone (hopefully you) asked to reset your Parley password. Open this link within ${minutes} minutes to choose a new one:</p><p><a href="${link}">Reset my password</a></p><p>It works once. Setting a new password signs you out everywhere. If you did not ask for this, ignore this email.</p>`,
    });
  }

  /** POST /v1/auth/password/reset: sets the password once per link and revokes every session. */
  async resetPassword(token: string, password: string): Promise<void> {
    const spent = await this.spend('password_reset', token);
    if (!spent) throw invalid('This reset link is not valid (used, expired or mistyped).');
    // Other reset links of the same account stop working too.
    await this.d.db.query("UPDATE account_email_tokens SET used_at = now() WHERE user_id = $1 AND purpose = 'password_reset' AND used_at IS NULL", [spent.user_id]);
    await this.d.auth.setPasswordRevokingSessions(spent.user_id, password);
  }

  /** Sends the verification link for the user's current address. */
  async sendVerification(userId: string): Promise<void> {
    const { rows } = await this.d.db.query<{ email: string; email_lower: string; display_name: string; email_verified_at: Date | null }>(
      'SELECT email, email_lower, display_name, email_verified_at FROM users WHERE id = $1',
      [userId],
    );
    const user = rows[0];
    if (!user || user.email_verified_at) return;
    const token = await this.issue('email_verify', userId, user.email_lower, this.d.config.EMAIL_VERIFY_TTL);
    const link = `${this.d.publicBaseUrl()}/v1/auth/email/verify?token=${token}`;
    await this.d.mailer.send({
      to: user.email,
      subject: 'Confirm your email address for Parley',
      text: `Hi ${user.display_name},\n\nConfirm that this is your email address by opening:\n\n${link}\n`,
      html: `<p>Hi ${escapeHtml(user.display_name)},</p><p>Confirm that this is your email address:</p><p><a href="${link}">Confirm my email</a></p>`,
    });
  }

  /** Marks the address verified if the link is valid and the account still has that address. */
  async verifyEmail(token: string): Promise<void> {
    const spent = await this.spend('email_verify', token);
    if (!spent) throw invalid('This verification link is not valid (used, expired or mistyped).');
    await this.d.db.query('UPDATE users SET email_verified_at = now() WHERE id = $1 AND email_lower = $2 AND email_verified_at IS NULL', [spent.user_id, spent.email_lower]);
  }

  async verificationStatus(userId: string): Promise<{ email: string; verified: boolean }> {
    const { rows } = await this.d.db.query<{ email: string; email_verified_at: Date | null }>('SELECT email, email_verified_at FROM users WHERE id = $1', [userId]);
    return { email: rows[0]?.email ?? '', verified: !!rows[0]?.email_verified_at };
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
