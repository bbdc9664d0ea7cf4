import { Agent } from 'node:https';
import webpush from 'web-push';
import type { Logger } from '../../logger.js';
import { parseRetryAfter, resultOf, withProviderRetry, type ProviderAnswer, type PushMessage, type PushResult, type PushSender, type PushTarget, type RetryPolicy } from './push.port.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

export interface WebPushOptions {
  vapid: VapidKeys;
  /** Extra trusted CAs (PEM) for push services. */
  ca?: string;
  retry: RetryPolicy;
  logger: Logger;
}

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and `aes128gcm` payload encryption
 * (RFC 8291), through the `web-push` package, to the endpoint each subscription names.
 */
export class WebPushSender implements PushSender {
  readonly platform = 'webpush' as const;
  readonly adapter = 'webpush';
  private readonly agent: Agent | undefined;
  /** VAPID Authorization header per push service origin: signed once, reused for an hour (its JWT lives 12 h, RFC 8292 allows 24). */
  private readonly vapidHeaders = new Map<string, { value: string; until: number }>();

  constructor(private readonly opts: WebPushOptions) {
    // Fails here (at startup) on key material web-push will not sign with.
    webpush.getVapidHeaders('https://push.example', opts.vapid.subject, opts.vapid.publicKey, opts.vapid.privateKey, 'aes128gcm');
    // Kept-alive and bounded per push service, so a burst reuses a few TLS connections
    // instead of opening one (with its handshake) per push.
    const agentOptions = { keepAlive: true, maxSockets: 32 };
    this.agent = new Agent(opts.ca ? { ...agentOptions, ca: opts.ca } : agentOptions);
  }

  /** What the service worker receives (decrypted JSON). */
  static payload(m: PushMessage): Record<string, unknown> {
    return { kind: m.kind, title: m.title, body: m.body, badge: m.badge, ...m.data };
  }

  private authorization(endpoint: string): string {
    const origin = new URL(endpoint).origin;
    const cached = this.vapidHeaders.get(origin);
    if (cached && cached.until > Date.now()) return cached.value;
    const { publicKey, privateKey, subject } = this.opts.vapid;
    const exp = Math.floor(Date.now() / 1000) + 12 * 3600;
    const h = webpush.getVapidHeaders(origin, subject, publicKey, privateKey, 'aes128gcm', exp);
    if (this.vapidHeaders.size > 1000) this.vapidHeaders.clear();
    this.vapidHeaders.set(origin, { value: h.Authorization, until: Date.now() + 3600_000 });
    return h.Authorization;
  }

  async send(target: PushTarget, m: PushMessage): Promise<PushResult> {
    if (!target.subscription) return { outcome: 'rejected', status: 400, reason: 'device has no subscription' };
    const sub = target.subscription;
    if (!/^https:\/\//.test(sub.endpoint)) return { outcome: 'rejected', status: 400, reason: 'endpoint is not https' };
    const answer = await withProviderRetry(this.opts.retry, async (): Promise<ProviderAnswer> => {
      try {
        const r = await webpush.sendNotification(sub, JSON.stringify(WebPushSender.payload(m)), {
          // VAPID signed here and cached (given vapidDetails, web-push would sign a new JWT for every push).
          headers: { Authorization: this.authorization(sub.endpoint) },
          TTL: m.ttlSeconds,
          contentEncoding: 'aes128gcm',
          urgency: m.kind === 'alert' ? 'high' : 'normal',
          topic: m.collapseKey,
          timeout: 15_000,
          ...(this.agent ? { agent: this.agent } : {}),
        });
        return { status: r.statusCode, reason: '' };
      } catch (err) {
        if (err instanceof webpush.WebPushError) {
          const ra = parseRetryAfter(err.headers['retry-after']);
          return { status: err.statusCode, reason: String(err.body ?? '').slice(0, 200), ...(ra !== undefined ? { retryAfterSeconds: ra } : {}) };
        }
        throw err;
      }
    });
    return resultOf(answer, (a) => a.status === 404 || a.status === 410);
  }

  async close(): Promise<void> {
    this.agent?.destroy();
  }
}

/** A new VAPID key pair (base64url: 65-byte public, 32-byte private). */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  return webpush.generateVAPIDKeys();
}
