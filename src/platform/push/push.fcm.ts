import { readFileSync } from 'node:fs';
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';
import type { Logger } from '../../logger.js';
import { parseRetryAfter, resultOf, withProviderRetry, type ProviderAnswer, type PushMessage, type PushResult, type PushSender, type PushTarget, type RetryPolicy } from './push.port.js';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** The fields of a Google service account file that FCM needs. */
export interface ServiceAccount {
  client_email: string;
  private_key: string;
  project_id: string;
  token_uri: string;
}

/** Reads and checks a service account file; throws a message naming what is wrong. */
export async function loadServiceAccount(path: string): Promise<{ account: ServiceAccount; key: CryptoKey }> {
  let parsed: Partial<ServiceAccount>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServiceAccount>;
  } catch (err) {
    throw new Error(`cannot read the service account file ${path}: ${(err as Error).message}`, { cause: err });
  }
  for (const k of ['client_email', 'private_key', 'project_id', 'token_uri'] as const) {
    if (typeof parsed[k] !== 'string' || parsed[k] === '') throw new Error(`the service account file ${path} has no "${k}"`);
  }
  const account = parsed as ServiceAccount;
  let key: CryptoKey;
  try {
    key = await importPKCS8(account.private_key, 'RS256');
  } catch (err) {
    throw new Error(`the private_key of ${path} is not an RSA PKCS#8 key: ${(err as Error).message}`, { cause: err });
  }
  return { account, key };
}

export interface FcmOptions {
  account: ServiceAccount;
  key: CryptoKey;
  baseUrl: string;
  /** Overrides the account's token_uri. */
  tokenUrl?: string;
  retry: RetryPolicy;
  logger: Logger;
}

/**
 * FCM HTTP v1: an OAuth2 access token from a JWT (RS256, signed with the service
 * account's key) exchanged at the token endpoint, cached until a minute before it
 * expires; then `messages:send` per device.
 */
export class FcmPushSender implements PushSender {
  readonly platform = 'fcm' as const;
  readonly adapter = 'fcm';
  private token: { value: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(private readonly opts: FcmOptions) {}

  private get tokenUrl(): string {
    return this.opts.tokenUrl || this.opts.account.token_uri;
  }

  /** The cached access token, or a new one (one exchange at a time). */
  private accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - 60_000 > Date.now()) return Promise.resolve(this.token.value);
    this.pending ??= this.exchange().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async exchange(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(this.opts.account.client_email)
      .setAudience(this.opts.account.token_uri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(this.opts.key);
    const res = await fetch(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`FCM token endpoint answered ${res.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new Error('FCM token endpoint gave no access_token');
    this.token = { value: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 };
    return body.access_token;
  }

  /** The HTTP v1 message for one device. */
  static body(target: PushTarget, m: PushMessage): unknown {
    const ttl = `${m.ttlSeconds}s`;
    if (m.kind === 'background') {
      return {
        message: {
          token: target.token,
          data: m.data,
          android: { priority: 'HIGH', ttl },
          apns: { headers: { 'apns-push-type': 'background', 'apns-priority': '5' }, payload: { aps: { 'content-available': 1 } } },
        },
      };
    }
    return {
      message: {
        token: target.token,
        notification: { title: m.title ?? '', body: m.body ?? '' },
        data: m.data,
        android: {
          priority: 'HIGH',
          ttl,
          collapse_key: m.collapseKey,
          notification: { tag: m.collapseKey, ...(m.badge !== undefined ? { notification_count: m.badge } : {}) },
        },
        apns: {
          headers: { 'apns-push-type': 'alert', 'apns-priority': '10', 'apns-collapse-id': m.collapseKey },
          payload: { aps: { 'thread-id': m.collapseKey, 'content-available': 1, ...(m.badge !== undefined ? { badge: m.badge } : {}) } },
        },
      },
    };
  }

  async send(target: PushTarget, m: PushMessage): Promise<PushResult> {
    if (!target.token) return { outcome: 'rejected', status: 400, reason: 'device has no token' };
    const url = `${this.opts.baseUrl.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(this.opts.account.project_id)}/messages:send`;
    const body = JSON.stringify(FcmPushSender.body(target, m));
    let refreshed = false;
    const answer = await withProviderRetry(this.opts.retry, async (): Promise<ProviderAnswer> => {
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${await this.accessToken()}`, 'content-type': 'application/json' }, body });
      const text = await res.text();
      if (res.status === 401 && !refreshed) {
        // The access token was revoked or expired early: get a new one, once.
        refreshed = true;
        this.token = undefined;
        return { status: 503, reason: 'access token refused; refreshing', retryAfterSeconds: 0 };
      }
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      return { status: res.status, reason: fcmErrorCode(text) ?? text.slice(0, 200), ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) };
    });
    return resultOf(answer, (a) => a.status === 404 || a.reason === 'UNREGISTERED');
  }

  async close(): Promise<void> {}
}

/** The FCM error code (`UNREGISTERED`, `INVALID_ARGUMENT`…) of an error body, if any. */
function fcmErrorCode(text: string): string | undefined {
  try {
    const e = (JSON.parse(text) as { error?: { status?: string; details?: { errorCode?: string }[] } }).error;
    return e?.details?.find((d) => d.errorCode)?.errorCode ?? e?.status;
  } catch {
    return undefined;
  }
}
