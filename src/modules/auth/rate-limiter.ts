import { AppError } from '../../errors.js';
import type { RateLimit } from '../../config.js';
import type { KeyValueStore } from '../../platform/kv/index.js';

/**
 * What a user does that is budgeted per user, whatever the transport: REST and every
 * WebSocket connection of the user (on any gateway) spend the same budget.
 */
export type UserAction = 'send' | 'typing' | 'read' | 'signal';

/** Fixed-window rate limits over the key-value store, so every process shares the counts. */
export class RateLimiter {
  constructor(private readonly kv: KeyValueStore) {}

  /** Counts one `action` of `userId` against its per-user budget; `rate_limited` once spent. */
  async user(userId: string, action: UserAction, limit: RateLimit, what: string): Promise<void> {
    await this.hit(`${action}:user:${userId}`, limit, what);
  }

  /** Counts one event under `key`; throws `rate_limited` once the window's budget is spent. */
  async hit(key: string, limit: RateLimit, what: string): Promise<void> {
    const { count, ttlMs } = await this.kv.incrWindow(`rl:${key}`, limit.windowSeconds);
    if (count > limit.max) {
      throw new AppError('rate_limited', `Too many ${what}; retry later.`, { retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) });
    }
  }

  /**
   * Counts a failure under `key`; when the window's budget is spent, locks the key for the
   * rest of the window (checked by `assertNotLocked`). Only failures count, so a user who
   * types their password right is never locked out by their own successes.
   */
  async failure(key: string, limit: RateLimit): Promise<void> {
    const { count, ttlMs } = await this.kv.incrWindow(`rl:${key}`, limit.windowSeconds);
    if (count >= limit.max) {
      const until = Date.now() + ttlMs;
      await this.kv.set(`rl:lock:${key}`, String(until), Math.max(1, Math.ceil(ttlMs / 1000)));
    }
  }

  async assertNotLocked(key: string, what: string): Promise<void> {
    const until = await this.kv.get(`rl:lock:${key}`);
    if (until === null) return;
    const left = Number(until) - Date.now();
    if (left > 0) throw new AppError('rate_limited', `Too many ${what}; retry later.`, { retryAfterSeconds: Math.ceil(left / 1000) });
  }
}
