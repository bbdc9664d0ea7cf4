/**
 * The key-value/cache port (sessions, rate limits, idempotency claims, caches). Kept small
 * and Redis-shaped so that the Redis adapter is one command per method.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  /** The values of `keys`, in order (null where missing): MGET, one round trip for all. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  /** SET key value [EX ttl]. */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** SET key value NX [EX ttl]: true when this call created the key. */
  setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /**
   * INCRBY key `by` (default 1), giving the key a lifetime of `ttlSeconds` when this call
   * created it (a fixed window). Returns the new count and the milliseconds left in the window.
   */
  incrWindow(key: string, ttlSeconds: number, by?: number): Promise<{ count: number; ttlMs: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
