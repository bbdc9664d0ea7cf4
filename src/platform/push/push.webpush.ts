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

  constructor(private readonly opts: WebPushOptions) {
    // Fails here (at startup) on key material web-push will not sign with.
    webpush.getVapidHeaders('https://push.example', opts.vapid.subject, opts.vapid.publicKey, opts.vapid.privateKey, 'aes128gcm');
    this.agent = opts.ca ? new Agent({ ca: opts.ca, keepAlive: true }) : new Agent({ keepAlive: true });
  }

  /** What the service worker receives (decrypted JSON). */
  static payload(m: PushMessage): Record<string, unknown> {
    return { kind: m.kind, title: m.title, body: m.body, badge: m.badge, ...m.data };
  }

  async send(target: PushTarget, m: PushMessage): Promise<PushResult> {
    if (!target.subscription) return { outcome: 'rejected', status: 400, reason: 'device has no subscription' };
    const sub = target.subscription;
    const answer = await withProviderRetry(this.opts.retry, async (): Promise<ProviderAnswer> => {
      try {
        const r = await webpush.sendNotification(sub, JSON.stringify(WebPushSender.payload(m)), {
          vapidDetails: this.opts.vapid,
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
