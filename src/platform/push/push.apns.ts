import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';
import type { Logger } from '../../logger.js';
import { parseRetryAfter, resultOf, withProviderRetry, type ProviderAnswer, type PushMessage, type PushResult, type PushSender, type PushTarget, type RetryPolicy } from './push.port.js';

/** Reads an APNs auth key (.p8, PKCS#8 P-256); throws a message naming what is wrong. */
export async function loadApnsKey(path: string): Promise<CryptoKey> {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the APNs key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await importPKCS8(pem, 'ES256');
  } catch (err) {
    throw new Error(`the APNs key file ${path} is not a PKCS#8 P-256 key: ${(err as Error).message}`, { cause: err });
  }
}

export interface ApnsOptions {
  key: CryptoKey;
  keyId: string;
  teamId: string;
  topic: string;
  /** https://api.push.apple.com or the sandbox (or a test server). */
  url: string;
  /** Extra trusted CAs (PEM). */
  ca?: string;
  retry: RetryPolicy;
  logger: Logger;
}

/** Provider tokens are reused for this long (Apple refuses ones older than an hour, and too frequent new ones). */
const TOKEN_REUSE_MS = 50 * 60_000;
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * APNs over HTTP/2 with token auth: one long-lived connection, an ES256 provider token
 * (header `kid`, claims `iss` = team, `iat`) reused for 50 minutes.
 */
export class ApnsPushSender implements PushSender {
  readonly platform = 'apns' as const;
  readonly adapter = 'apns';
  private session: http2.ClientHttp2Session | undefined;
  private jwt: { value: string; at: number } | undefined;

  constructor(private readonly opts: ApnsOptions) {}

  private async providerToken(): Promise<string> {
    if (this.jwt && Date.now() - this.jwt.at < TOKEN_REUSE_MS) return this.jwt.value;
    const at = Date.now();
    const value = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.opts.keyId })
      .setIssuer(this.opts.teamId)
      .setIssuedAt(Math.floor(at / 1000))
      .sign(this.opts.key);
    this.jwt = { value, at };
    return value;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect(this.opts.url, this.opts.ca ? { ca: this.opts.ca } : {});
    s.on('error', (err) => this.opts.logger.warn({ err }, 'APNs connection error'));
    s.on('goaway', () => s.close());
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    // The connection does not keep the process alive on its own.
    s.unref();
    this.session = s;
    return s;
  }

  /** The JSON payload for one push. */
  static payload(m: PushMessage): Record<string, unknown> {
    if (m.kind === 'background') return { aps: { 'content-available': 1 }, ...m.data };
    return {
      aps: {
        alert: { title: m.title ?? '', body: m.body ?? '' },
        sound: 'default',
        'thread-id': m.collapseKey,
        'content-available': 1,
        ...(m.badge !== undefined ? { badge: m.badge } : {}),
      },
      ...m.data,
    };
  }

  private request(token: string, headers: Record<string, string>, body: string): Promise<ProviderAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.connection().request({ ':method': 'POST', ':path': `/3/device/${token}`, ...headers, 'content-type': 'application/json' });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      let retryAfter: string | undefined;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = Number(h[':status']);
        const ra = h['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let reason = '';
        try {
          reason = (JSON.parse(Buffer.concat(chunks).toString()) as { reason?: string }).reason ?? '';
        } catch {
          /* 200 has an empty body */
        }
        const ra = parseRetryAfter(retryAfter);
        resolve({ status, reason, ...(ra !== undefined ? { retryAfterSeconds: ra } : {}) });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async send(target: PushTarget, m: PushMessage): Promise<PushResult> {
    if (!target.token) return { outcome: 'rejected', status: 400, reason: 'device has no token' };
    const headers: Record<string, string> = {
      'apns-topic': this.opts.topic,
      'apns-push-type': m.kind === 'background' ? 'background' : 'alert',
      'apns-priority': m.kind === 'background' ? '5' : '10',
      'apns-expiration': String(Math.floor(Date.now() / 1000) + m.ttlSeconds),
      ...(m.kind === 'alert' ? { 'apns-collapse-id': m.collapseKey } : {}),
    };
    const body = JSON.stringify(ApnsPushSender.payload(m));
    let renewed = false;
    const answer = await withProviderRetry(this.opts.retry, async () => {
      const a = await this.request(target.token!, { ...headers, authorization: `bearer ${await this.providerToken()}` }, body);
      if (a.status === 403 && a.reason === 'ExpiredProviderToken' && !renewed) {
        renewed = true;
        this.jwt = undefined;
        return { status: 503, reason: a.reason, retryAfterSeconds: 0 };
      }
      return a;
    });
    return resultOf(answer, (a) => a.status === 410);
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s && !s.closed) await new Promise<void>((r) => s.close(() => r()));
  }
}
