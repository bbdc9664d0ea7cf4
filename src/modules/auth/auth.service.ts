import argon2 from 'argon2';
import { AppError, conflict, unauthorized } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Config } from '../../config.js';
import type { KeyValueStore } from '../../platform/kv/index.js';
import type { SqlDatabase } from '../../platform/sql/index.js';
import { isUniqueViolation } from '../../platform/sql/index.js';
import { UsersRepository } from '../users/users.repository.js';
import type { UsersService } from '../users/users.service.js';
import type { SelfUser } from '../users/users.schemas.js';
import { SessionsRepository } from './sessions.repository.js';
import type { AccessTokens} from './tokens.js';
import { hashToken, newRefreshToken, openWith, sealWith, sessionIdOfRefreshToken, type AccessClaims } from './tokens.js';
import { RateLimiter } from './rate-limiter.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface AuthResult extends TokenPair {
  user: SelfUser;
}

/** Who is calling: set by the gateways after `authenticate`. */
export interface AuthContext {
  userId: string;
  sessionId: string;
}

export interface ClientInfo {
  ip: string;
  userAgent?: string;
}

// argon2id, OWASP's first recommended setting (m=19 MiB, t=2, p=1): strong, and cheap
// enough that a team signing up at once does not stall a 2-core server.
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** How long failed logins of one (name, address) are remembered for its growing delays. */
const LOGIN_FAILURE_MEMORY_SECONDS = 24 * 3600;

/** The session cache holds `live:<userId>`, so a cached answer still ties the session to its user. */
const SESSION_LIVE = 'live';
const SESSION_REVOKED = 'revoked';

/** What the app does when auth state changes (given at construction). */
export interface AuthEvents {
  /**
   * After a session is revoked: the app publishes it to the user's topic so every
   * WebSocket gateway closes that session's sockets, wherever they are.
   */
  onSessionRevoked(sessionId: string, userId: string): void;
  /** After a signup is stored (the app sends the email verification link). */
  onSignedUp(user: { id: string; email: string }): void;
}

/** Signup, login, refresh with rotation and reuse detection, logout, and token checks. */
export class AuthService {
  private readonly users: UsersRepository;
  private readonly sessions: SessionsRepository;
  private readonly limiter: RateLimiter;
  /** A real hash to verify against when the login names no user, so timing does not tell. */
  private dummyHash: Promise<string>;
  constructor(
    private readonly db: SqlDatabase,
    private readonly kv: KeyValueStore,
    private readonly tokens: AccessTokens,
    private readonly usersService: UsersService,
    private readonly config: Config,
    private readonly events: AuthEvents,
  ) {
    this.users = new UsersRepository(db);
    this.sessions = new SessionsRepository(db);
    this.limiter = new RateLimiter(kv);
    this.dummyHash = argon2.hash('not-a-real-password', ARGON2_OPTIONS);
  }

  async signup(input: { email: string; username: string; password: string; displayName?: string }, client: ClientInfo): Promise<AuthResult> {
    await this.limiter.hit(`signup:ip:${client.ip}`, this.config.RATE_LIMIT_SIGNUP_IP, 'signups from this address');
    const passwordHash = await argon2.hash(input.password, ARGON2_OPTIONS);
    const displayName = input.displayName?.trim() || input.username;
    let row;
    try {
      row = await this.users.insert({ id: newId(), email: input.email.trim(), username: input.username, displayName, passwordHash });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('That email or username is already taken.');
      throw err;
    }
    const pair = await this.startSession(row.id, client);
    this.events.onSignedUp({ id: row.id, email: row.email });
    return { user: this.usersService.toSelf(row), ...pair };
  }

  /**
   * Sets a new password (a password reset) and revokes every session of the user, in the
   * database and in every process's session cache.
   */
  async setPasswordRevokingSessions(userId: string, password: string): Promise<void> {
    const passwordHash = await argon2.hash(password, ARGON2_OPTIONS);
    const revoked = await this.db.transaction(async (tx) => {
      await tx.query('UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1', [userId, passwordHash]);
      const { rows } = await tx.query<{ id: string }>(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = 'password_reset' WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
        [userId],
      );
      return rows.map((r) => r.id);
    });
    for (const id of revoked) await this.markRevoked(id, userId);
  }

  /**
   * Logs in. Failures are throttled per (name typed, client address) with growing delays,
   * and per name typed under a far higher ceiling, so a stranger cannot lock an account
   * out for its owner. Every key is the name as typed (hashed), never the account: an
   * email and a username of one account never share visible state, and an unknown name
   * answers exactly like a known one — every refusal is the same until a correct password.
   */
  async login(input: { login: string; password: string }, client: ClientInfo): Promise<AuthResult> {
    const account = input.login.trim().toLowerCase();
    await this.limiter.hit(`login:ip:${client.ip}`, this.config.RATE_LIMIT_LOGIN_IP, 'login attempts from this address');
    const name = hashToken(`login:${account}`);
    const pairKey = `login:pair:${name}:${client.ip}`;
    const ceilingKey = `login:name:${name}`;
    await this.limiter.assertNoDelay(pairKey, 'failed logins');
    await this.limiter.assertNotLocked(ceilingKey, 'failed logins');
    const row = await this.users.findByLogin(account);
    const ok = await argon2.verify(row?.password_hash ?? (await this.dummyHash), input.password).catch(() => false);
    if (!row || !ok) {
      await this.limiter.delayAfterFailure(pairKey, this.config.LOGIN_FREE_FAILURES, this.config.LOGIN_MAX_DELAY, LOGIN_FAILURE_MEMORY_SECONDS);
      await this.limiter.failure(ceilingKey, this.config.RATE_LIMIT_LOGIN_ACCOUNT);
      throw unauthorized('Wrong login or password.');
    }
    await this.limiter.clearDelay(pairKey);
    if (row.deactivated_at) throw new AppError('account_deactivated', 'This account has been deactivated.');
    const pair = await this.startSession(row.id, client);
    return { user: this.usersService.toSelf(row), ...pair };
  }

  /**
   * Deactivates an account (deployment administrators): login is refused from now on, and
   * every session is revoked, which closes its sockets on every gateway.
   */
  async deactivate(userId: string): Promise<{ deactivatedAt: Date; sessionsRevoked: number } | null> {
    const row = await this.users.deactivate(userId);
    if (!row) return null;
    const ids = await this.sessions.revokeAllOf(userId, 'deactivated');
    for (const id of ids) await this.markRevoked(id, userId);
    return { deactivatedAt: row.deactivated_at!, sessionsRevoked: ids.length };
  }

  private async startSession(userId: string, client: ClientInfo): Promise<TokenPair> {
    const sessionId = newId();
    const refreshToken = newRefreshToken(sessionId);
    await this.sessions.insert({
      id: sessionId,
      userId,
      refreshHash: hashToken(refreshToken),
      expiresAt: this.refreshExpiry(),
      ip: client.ip,
      ...(client.userAgent ? { userAgent: client.userAgent } : {}),
    });
    await this.kv.set(this.sessionKey(sessionId), `${SESSION_LIVE}:${userId}`, this.config.SESSION_CACHE_TTL);
    return { accessToken: await this.tokens.sign({ userId, sessionId }), refreshToken, expiresIn: this.tokens.ttlSeconds };
  }

  private refreshExpiry(): Date {
    return new Date(Date.now() + this.config.REFRESH_TOKEN_TTL * 1000);
  }

  /**
   * Rotates a refresh token. The presented token is spent; presenting a spent one again
   * (a stolen copy, or a replay) revokes the whole session, so both holders are logged out.
   * Except within `REFRESH_GRACE_PERIOD` of its rotation: then it returns the very pair
   * the rotation issued (two tabs refreshing at once, a retried request), as identity
   * providers' refresh token "reuse intervals" do. The pair waits in the shared cache,
   * sealed under the old token, so only its holder can read it.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const sessionId = sessionIdOfRefreshToken(refreshToken);
    if (!sessionId) throw unauthorized('Invalid refresh token.');
    const hash = hashToken(refreshToken);
    const graceKey = `refresh:grace:${hash}`;
    // The outcome is decided inside the transaction but thrown after it commits, so a
    // revocation for reuse is kept rather than rolled back with the error.
    const outcome = await this.db.transaction(async (tx) => {
      const sessions = new SessionsRepository(tx);
      const s = await sessions.findForUpdate(sessionId);
      if (!s || s.revoked_at || s.expires_at.getTime() <= Date.now()) return { kind: 'invalid' as const };
      if (s.refresh_hash === hash) {
        const next = newRefreshToken(sessionId);
        await sessions.rotate(sessionId, hash, hashToken(next), this.refreshExpiry());
        const pair: TokenPair = { accessToken: await this.tokens.sign({ userId: s.user_id, sessionId }), refreshToken: next, expiresIn: this.tokens.ttlSeconds };
        // Written before the commit: a concurrent refresh waits on the row lock above, and
        // must find the pair once it gets the row. Without the cache it falls back to reuse detection.
        await this.kv.set(graceKey, sealWith(refreshToken, JSON.stringify(pair)), this.config.REFRESH_GRACE_PERIOD).catch(() => {});
        return { kind: 'ok' as const, pair };
      }
      const sealed = await this.kv.get(graceKey).catch(() => null);
      const opened = sealed === null ? null : openWith(refreshToken, sealed);
      if (opened !== null) return { kind: 'ok' as const, pair: JSON.parse(opened) as TokenPair };
      if (await sessions.isSpent(sessionId, hash)) {
        await sessions.revoke(sessionId, 'refresh_token_reuse');
        return { kind: 'reused' as const, userId: s.user_id };
      }
      return { kind: 'invalid' as const };
    });
    if (outcome.kind === 'reused') {
      await this.markRevoked(sessionId, outcome.userId);
      throw unauthorized('Refresh token reuse detected; the session has been revoked.');
    }
    if (outcome.kind === 'invalid') throw unauthorized('Invalid refresh token.');
    return outcome.pair;
  }

  async logout(auth: AuthContext): Promise<void> {
    await this.sessions.revoke(auth.sessionId, 'logout');
    await this.markRevoked(auth.sessionId, auth.userId);
  }

  private async markRevoked(sessionId: string, userId: string): Promise<void> {
    // Kept as long as an access token of the session can live, so no cache says "live".
    await this.kv.set(this.sessionKey(sessionId), SESSION_REVOKED, Math.max(this.tokens.ttlSeconds, this.config.SESSION_CACHE_TTL) + 60);
    this.events.onSessionRevoked(sessionId, userId);
  }

  /**
   * Checks only the token's signature and expiry (no I/O): who it claims to be. The
   * WebSocket gateway starts a connection's setup with it while `authenticate` runs.
   */
  async verifyAccessToken(accessToken: string): Promise<AuthContext> {
    const { userId, sessionId } = await this.tokens.verify(accessToken);
    return { userId, sessionId };
  }

  /** Verifies an access token, that its session is still live and that it is the token subject's session; throws `unauthorized`. */
  async authenticate(accessToken: string): Promise<AuthContext> {
    const claims: AccessClaims = await this.tokens.verify(accessToken);
    await this.assertSessionLive(claims.sessionId, claims.userId);
    return claims;
  }

  /** Throws `unauthorized` when the session was revoked, has expired, or is not `userId`'s. */
  async assertSessionLive(sessionId: string, userId: string): Promise<void> {
    const key = this.sessionKey(sessionId);
    const live = `${SESSION_LIVE}:${userId}`;
    // The cache is an optimisation: when it is down, the database answers.
    const cached = await this.kv.get(key).catch(() => null);
    if (cached === live) return;
    if (cached === SESSION_REVOKED) throw unauthorized('Session has ended.');
    if (cached?.startsWith(`${SESSION_LIVE}:`)) throw unauthorized('Invalid access token.');
    const s = await this.sessions.find(sessionId);
    if (!s || s.revoked_at || s.expires_at.getTime() <= Date.now()) {
      await this.kv.set(key, SESSION_REVOKED, this.tokens.ttlSeconds + 60).catch(() => {});
      throw unauthorized('Session has ended.');
    }
    // Another user's session: the token was forged or minted wrongly; nothing of it is accepted.
    if (s.user_id !== userId) throw unauthorized('Invalid access token.');
    // Only if nothing was written meanwhile: a logout racing this check must win.
    await this.kv.setIfAbsent(key, live, this.config.SESSION_CACHE_TTL).catch(() => false);
  }

  private sessionKey(sessionId: string): string {
    return `session:${sessionId}`;
  }
}

