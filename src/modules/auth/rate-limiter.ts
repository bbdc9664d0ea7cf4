import { AppError } from '../../errors.js';
import type { RateLimit } from '../../config.js';
import type { KeyValueStore } from '../../platform/kv/index.js';
import { TickBatcher } from '../../platform/batch/tick-batcher.js';

/**
 * What a user does that is budgeted per user, whatever the transport: REST and every
 * WebSocket connection of the user (on any gateway) spend the same budget.
 */
export type UserAction = 'send' | 'typing' | 'read' | 'signal';

type Count = { count: number; ttlMs: number };

/** Fixed-window rate limits over the key-value store, so every process shares the counts. */
export class RateLimiter {
  /**
   * The hits of this turn of the event loop: the frames of one socket read (a client
   * pipelining its sends) go to the store as ONE increment per key, by that key's number of
   * hits, and each hit gets its own place in the window (the count before them, plus its
   * position): the answers of one increment each, for one command per burst. One command per
   * send was some 15 % of the sending gateway's CPU in `npm run bench` at a room of 100. A
   * key whose increment fails fails its own hits only, as each would have failed alone.
   */
  private readonly hits = new TickBatcher<{ key: string; windowSeconds: number }, Count | Error>((items) => this.countAll(items), 10_000);

  constructor(private readonly kv: KeyValueStore) {}

  /** Counts one `action` of `userId` against its per-user budget; `rate_limited` once spent. */
  async user(userId: string, action: UserAction, limit: RateLimit, what: string): Promise<void> {
    await this.hit(`${action}:user:${userId}`, limit, what);
  }

  /** Counts one event under `key`; throws `rate_limited` once the window's budget is spent. */
  async hit(key: string, limit: RateLimit, what: string): Promise<void> {
    const r = await this.hits.add({ key: `rl:${key}`, windowSeconds: limit.windowSeconds });
    if (r instanceof Error) throw r;
    const { count, ttlMs } = r;
    if (count > limit.max) {
      throw new AppError('rate_limited', `Too many ${what}; retry later.`, { retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) });
    }
  }

  /** The counts of a turn's hits (see `hits`), in their order. */
  private async countAll(items: { key: string; windowSeconds: number }[]): Promise<(Count | Error)[]> {
    const byKey = new Map<string, number[]>();
    items.forEach((it, i) => {
      const at = byKey.get(it.key);
      if (at) at.push(i);
      else byKey.set(it.key, [i]);
    });
    const out: (Count | Error)[] = new Array(items.length);
    await Promise.all(
      [...byKey].map(async ([key, at]) => {
        try {
          // A key's limit is the same for every hit of it (the key names the action).
          const { count, ttlMs } = await this.kv.incrWindow(key, items[at[0]!]!.windowSeconds, at.length);
          at.forEach((i, j) => (out[i] = { count: count - at.length + j + 1, ttlMs }));
        } catch (err) {
          for (const i of at) out[i] = err instanceof Error ? err : new Error(String(err));
        }
      }),
    );
    return out;
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

  /**
   * Growing delays under `key`: the first `free` failures cost nothing; each later one
   * makes the next attempt wait twice as long as the one before (1 s, 2 s, 4 s, …, up to
   * `maxDelaySeconds`). Failures are remembered for `memorySeconds`; `clearDelay` resets.
   */
  async delayAfterFailure(key: string, free: number, maxDelaySeconds: number, memorySeconds: number): Promise<void> {
    const { count } = await this.kv.incrWindow(`rl:fail:${key}`, memorySeconds);
    if (count < free) return;
    const wait = Math.min(maxDelaySeconds, 2 ** Math.min(count - free, 30));
    await this.kv.set(`rl:wait:${key}`, String(Date.now() + wait * 1000), Math.max(1, Math.ceil(wait)));
  }

  /** Throws `rate_limited` while `key` must still wait after its last failure. */
  async assertNoDelay(key: string, what: string): Promise<void> {
    const until = await this.kv.get(`rl:wait:${key}`);
    const left = until === null ? 0 : Number(until) - Date.now();
    if (left > 0) throw new AppError('rate_limited', `Too many ${what}; retry later.`, { retryAfterSeconds: Math.ceil(left / 1000) });
  }

  /** Forgets the failures under `key` (after a success). */
  async clearDelay(key: string): Promise<void> {
    await Promise.all([this.kv.del(`rl:fail:${key}`), this.kv.del(`rl:wait:${key}`)]);
  }
}
