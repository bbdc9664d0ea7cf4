import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { unauthorized } from '../../errors.js';

const ISSUER = 'parley';
const AUDIENCE = 'parley';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** Signs and verifies short-lived access tokens (JWT, HS256). */
/** Verified tokens remembered (by their exact text) so a reused token is not verified again. */
const VERIFIED_CACHE_MAX = 10_000;

export class AccessTokens {
  private readonly key: Uint8Array;
  /**
   * Token text → its claims and expiry. A client sends the same access token with every
   * request and every reconnect for its whole lifetime; checking the signature once is
   * enough (expiry is still checked on every use; revocation is the session check's job).
   */
  private readonly verified = new Map<string, { claims: AccessClaims; expMs: number }>();

  constructor(secret: string, readonly ttlSeconds: number) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: AccessClaims): Promise<string> {
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + Math.round(this.ttlSeconds))
      .sign(this.key);
  }

  /** Verifies signature, algorithm, issuer, audience and expiry; throws `unauthorized`. */
  async verify(token: string): Promise<AccessClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (Date.now() < hit.expMs) return { ...hit.claims };
      this.verified.delete(token);
      throw unauthorized('Access token expired.');
    }
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') throw unauthorized('Malformed access token.');
      const claims = { userId: payload.sub, sessionId: payload.sid };
      if (typeof payload.exp === 'number') {
        if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
        this.verified.set(token, { claims, expMs: payload.exp * 1000 });
      }
      return { ...claims };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('Access token expired.');
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError) throw unauthorized('Invalid access token.');
      throw err;
    }
  }
}

/** A refresh token names its session, so a reused one can revoke exactly that session. */
export function newRefreshToken(sessionId: string): string {
  return `${sessionId}.${randomBytes(32).toString('base64url')}`;
}

export function sessionIdOfRefreshToken(token: string): string | null {
  const m = /^([A-Za-z0-9_-]{1,64})\.[A-Za-z0-9_-]{43}$/.exec(token);
  return m ? m[1]! : null;
}

/** Refresh tokens are stored only as SHA-256 hashes: a database leak does not leak sessions. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Encrypts `plaintext` (AES-256-GCM) under a key derived from `secret`, so only a holder
 * of the secret (e.g. a refresh token) can read it back: what the refresh grace period
 * keeps in the shared cache is useless to anyone who reads the cache.
 */
export function sealWith(secret: string, plaintext: string): string {
  const key = createHash('sha256').update(`seal:${secret}`).digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Reverses `sealWith`; null when `sealed` was not sealed with `secret` (or was altered). */
export function openWith(secret: string, sealed: string): string | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const key = createHash('sha256').update(`seal:${secret}`).digest();
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/**
 * The JWT secret: the configured one, or in the embedded profile one generated on first
 * start and kept in `DATA_DIR/jwt-secret` (mode 0600), so tokens survive restarts.
 */
export function resolveJwtSecret(configured: string, dataDir: string): string {
  if (configured) return configured;
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  // 'wx' fails if another process created it first; then we read theirs.
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch {
    return readFileSync(file, 'utf8').trim();
  }
}
