import type { Result } from 'ioredis';
import type { Logger } from '../../logger.js';
import { openRedis, type RedisConfig, type RedisConnection, type RedisOpenOptions } from '../redis/redis.connection.js';
import type { KeyValueStore } from './kv.port.js';

// INCR and the expiry must be one atomic step: if a process died (or the connection
// dropped) between INCR and PEXPIRE, the counter would live forever and lock the caller out
// of the rate-limited action for good. The script also repairs a counter that somehow has
// no expiry (PTTL -1), which is what `PEXPIRE ... NX` would do, but works before Redis 7.
const INCR_WINDOW_LUA = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    parleyIncrWindow(key: string, ttlMs: number, by: number): Result<[number, number], Context>;
  }
}

/** Seconds to milliseconds for PX/PEXPIRE (so sub-second TTLs work as they do in memory). */
function ttlMs(ttlSeconds: number): number {
  const ms = Math.round(ttlSeconds * 1000);
  if (!(ms > 0)) throw new Error(`ttl must be positive, got ${ttlSeconds}s`);
  return ms;
}

/**
 * Redis key-value adapter: one command per method; keys get REDIS_KEY_PREFIX through the
 * connection's `keyPrefix`.
 */
export class RedisKeyValueStore implements KeyValueStore {
  constructor(private readonly connection: RedisConnection) {
    connection.client.defineCommand('parleyIncrWindow', { numberOfKeys: 1, lua: INCR_WINDOW_LUA });
  }

  static async open(config: RedisConfig, logger: Logger, opts: RedisOpenOptions = {}): Promise<RedisKeyValueStore> {
    return new RedisKeyValueStore(await openRedis(config, logger, { ...opts, name: 'kv', keyPrefix: true }));
  }

  private get redis() {
    return this.connection.client;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    // In a cluster the keys of one MGET must share a slot, and these (no hash tag) do not:
    // one GET each there, which auto-pipelining still sends one write per node.
    if (this.connection.cluster) return Promise.all(keys.map((k) => this.redis.get(k)));
    return this.redis.mget(...keys);
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    if (ttlSeconds === undefined) await this.redis.set(key, value);
    else await this.redis.set(key, value, 'PX', ttlMs(ttlSeconds));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean> {
    const reply =
      ttlSeconds === undefined ? await this.redis.set(key, value, 'NX') : await this.redis.set(key, value, 'PX', ttlMs(ttlSeconds), 'NX');
    return reply === 'OK';
  }

  async del(key: string): Promise<void> {
    await this.redis.del(key);
  }

  async incrWindow(key: string, ttlSeconds: number, by = 1): Promise<{ count: number; ttlMs: number }> {
    const [count, ttl] = await this.redis.parleyIncrWindow(key, ttlMs(ttlSeconds), by);
    return { count: Number(count), ttlMs: Math.max(0, Number(ttl)) };
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
