/**
 * The push port: one sender per platform (FCM HTTP v1, APNs over HTTP/2, Web Push with
 * VAPID), or the log adapter standing in for a platform that is not configured.
 *
 * What every adapter keeps:
 * - `send` resolves `sent`, `gone` (the provider says the token/subscription no longer
 *   exists: FCM 404 UNREGISTERED, APNs 410, Web Push 404/410; the caller deletes the
 *   device) or `rejected` (a 4xx that will never succeed: not retried).
 * - 429 and 5xx are retried inside `send` (PUSH_RETRY_ATTEMPTS), waiting the provider's
 *   `Retry-After` when it gives one (else a doubling delay); when they run out, `send`
 *   throws a `PushRetryableError` and the job is retried later by the queue.
 */
export type PushPlatform = 'fcm' | 'apns' | 'webpush';

export interface WebPushSubscriptionKeys {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** One registered device. */
export interface PushTarget {
  deviceId: string;
  platform: PushPlatform;
  /** FCM registration token or APNs device token (hex). */
  token?: string;
  subscription?: WebPushSubscriptionKeys;
}

/** What is pushed, before each platform shapes it. */
export interface PushMessage {
  /** `alert`: a visible notification; `background`: data only, wakes the app to sync. */
  kind: 'alert' | 'background';
  title?: string;
  body?: string;
  /** String data for the app: conversationId, messageId, seq. */
  data: Record<string, string>;
  /** Pushes with the same key replace each other on the device (one per conversation). */
  collapseKey: string;
  /** The user's total unread count (app icon badge). */
  badge?: number;
  ttlSeconds: number;
}

export type PushResult = { outcome: 'sent' } | { outcome: 'gone'; status: number; reason: string } | { outcome: 'rejected'; status: number; reason: string };

export interface PushSender {
  readonly platform: PushPlatform;
  /** `log` for the embedded stand-in, else the provider's name. */
  readonly adapter: string;
  send(target: PushTarget, message: PushMessage): Promise<PushResult>;
  close(): Promise<void>;
}

/** A provider kept answering 429/5xx (or the network failed): retry the job later. */
export class PushRetryableError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'PushRetryableError';
  }
}

/** A provider's answer, as the retry loop sees it. */
export interface ProviderAnswer {
  status: number;
  /** Seconds, from a `Retry-After` header (delta-seconds or HTTP date). */
  retryAfterSeconds?: number;
  reason: string;
}

export interface RetryPolicy {
  attempts: number;
  maxDelaySeconds: number;
  /** First backoff delay in ms when the provider gives no Retry-After. */
  baseDelayMs?: number;
}

/** Parses a `Retry-After` value (seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `attempt` until it answers something other than 429/5xx (or throws a network
 * error) up to `policy.attempts` times, waiting Retry-After or a doubling delay between;
 * throws PushRetryableError when they run out or the provider asks for a longer wait.
 */
export async function withProviderRetry(policy: RetryPolicy, attempt: () => Promise<ProviderAnswer>): Promise<ProviderAnswer> {
  let delayMs = policy.baseDelayMs ?? 200;
  let last: ProviderAnswer | undefined;
  for (let i = 1; i <= policy.attempts; i++) {
    let answer: ProviderAnswer;
    try {
      answer = await attempt();
    } catch (err) {
      answer = { status: 0, reason: err instanceof Error ? err.message : String(err) };
    }
    const retryable = answer.status === 0 || answer.status === 429 || answer.status >= 500;
    if (!retryable) return answer;
    last = answer;
    if (i === policy.attempts) break;
    const wait = answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : delayMs;
    if (wait > policy.maxDelaySeconds * 1000) break;
    await sleep(wait);
    delayMs *= 2;
  }
  throw new PushRetryableError(`provider answered ${last?.status || 'a network error'}: ${last?.reason ?? ''}`.trim(), last?.status ?? 0);
}

/** The result for a final (non-retryable) answer; `isGone` says whether it means the token is dead. */
export function resultOf(answer: ProviderAnswer, isGone: (a: ProviderAnswer) => boolean): PushResult {
  if (answer.status >= 200 && answer.status < 300) return { outcome: 'sent' };
  if (isGone(answer)) return { outcome: 'gone', status: answer.status, reason: answer.reason };
  return { outcome: 'rejected', status: answer.status, reason: answer.reason };
}
