import type { Result } from 'ioredis';
import type { Logger } from '../../logger.js';
import { openRedis, type RedisConfig, type RedisConnection, type RedisOpenOptions } from '../redis/redis.connection.js';
import type { PresenceState, PresenceStore } from './presence.port.js';

/*
 * Layout (every key also carries REDIS_KEY_PREFIX):
 *   presence:{b}:conns:<userId>  sorted set: connectionId -> expiry (ms since epoch)
 *   presence:{b}:users           sorted set: userId -> latest expiry of their connections
 *   presence:{b}:seen:<userId>   string: last-seen time (ms since epoch), long TTL
 * where b = bucket(userId) in 0..BUCKETS-1.
 *
 * Why buckets: the scripts below touch a user's keys and the `users` set together, and in a
 * Redis Cluster the keys of one script must hash to one slot. The `{b}` hash tag puts a
 * user's keys in the slot of their bucket's `users` set, and 16 buckets spread presence over
 * up to 16 slots (shards) instead of pinning all of it to one. BUCKETS must be the same in
 * every process: changing it strands the presence entries of the old layout until they
 * expire (minutes), nothing worse.
 *
 * Time comes from Redis (TIME inside the scripts), not from each process: expiries written
 * by one gateway are compared by another, so one clock for all avoids skew between hosts.
 *
 * Invariant kept by every script: the score of a user in `users` is the largest expiry in
 * their `conns`, and a user is in `users` exactly while `conns` is non-empty. A user is
 * online iff that score is in the future.
 */
const BUCKETS = 16;
/** Last-seen times are kept for a long while, but not forever for users who never come back. */
const SEEN_TTL_SECONDS = 90 * 24 * 3600;
/** Users claimed per bucket per reapExpired call; the rest are claimed by the next call. */
const REAP_BATCH = 500;

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// After the connection set changed: drop expired entries (their gateway died), then either
// re-score the user in `users` with their latest expiry or remove them when none is left.
// Returns the number of live connections left.
const RESCORE = `
local function rescore(conns, users, userId, now)
  redis.call('ZREMRANGEBYSCORE', conns, '-inf', now)
  local top = redis.call('ZRANGE', conns, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', users, userId)
    return 0
  end
  redis.call('ZADD', users, top[2], userId)
  -- a safety net for a conns key whose user is never reaped (no worker running)
  redis.call('PEXPIREAT', conns, math.floor(tonumber(top[2])) + 3600000)
  return redis.call('ZCARD', conns)
end
`;

// touch: atomic so that "was the user online before this connection?" and the write are one
// step; two gateways touching the first two connections of a user at once must not both
// (or neither) report becameOnline.
// KEYS: conns, users   ARGV: connectionId, ttlMs, userId   -> 1 when the user became online
const TOUCH_LUA = `${NOW_MS}${RESCORE}
local before = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
rescore(KEYS[1], KEYS[2], ARGV[3], now)
if before == 0 then return 1 end
return 0
`;

// remove: atomic for the same reason (the last two connections closing at once must yield
// exactly one becameOffline). becameOffline is "the user was still in `users` and is no
// longer": that covers the last live connection going, and also a user whose connections
// all expired but who was not reaped yet. Either way nobody has announced them offline, and
// since this call takes them out of `users`, reapExpired never will: every online period
// ends in exactly one offline, from remove or from reapExpired.
// KEYS: conns, users, seen   ARGV: connectionId, userId, seenTtlSeconds -> {becameOffline, now}
const REMOVE_LUA = `${NOW_MS}${RESCORE}
local tracked = redis.call('ZSCORE', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
local after = rescore(KEYS[1], KEYS[2], ARGV[2], now)
redis.call('SET', KEYS[3], now, 'EX', ARGV[3])
local became = 0
if tracked and after == 0 then became = 1 end
return {became, now}
`;

// reap: claims the users of one bucket whose latest expiry has passed. Running as one script
// makes the claim exclusive across processes (two reapers never both get a user) and keeps
// a concurrent touch from slipping between the check and the removal. The per-user keys are
// built from ARGV prefixes (not declared in KEYS, which must be known before the call); the
// {b} hash tag in them keeps them in the slot of KEYS[1].
// KEYS: users   ARGV: limit, seenTtlSeconds, connsKeyPrefix, seenKeyPrefix -> {userId, ms, ...}
const REAP_LUA = `${NOW_MS}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for i = 1, #due, 2 do
  local userId = due[i]
  local seen = math.min(math.floor(tonumber(due[i + 1])), now)
  redis.call('ZREM', KEYS[1], userId)
  redis.call('DEL', ARGV[3] .. userId)
  redis.call('SET', ARGV[4] .. userId, seen, 'EX', ARGV[2])
  out[#out + 1] = userId
  out[#out + 1] = string.format('%d', seen)
end
return out
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    parleyPresenceTouch(conns: string, users: string, connectionId: string, ttlMs: number, userId: string): Result<number, Context>;
    parleyPresenceRemove(conns: string, users: string, seen: string, connectionId: string, userId: string, seenTtl: number): Result<[number, number], Context>;
    parleyPresenceReap(users: string, limit: number, seenTtl: number, connsPrefix: string, seenPrefix: string): Result<string[], Context>;
  }
}

/** FNV-1a: a stable, cheap spread of user ids over the buckets. */
function bucketOf(userId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

/** The distinct `userIds` grouped by bucket. */
function byBucket(userIds: readonly string[]): [number, string[]][] {
  const m = new Map<number, string[]>();
  for (const id of new Set(userIds)) {
    const b = bucketOf(id);
    const list = m.get(b);
    if (list) list.push(id);
    else m.set(b, [id]);
  }
  return [...m];
}

const usersKey = (b: number) => `presence:{${b}}:users`;
const connsPrefix = (b: number) => `presence:{${b}}:conns:`;
const seenPrefix = (b: number) => `presence:{${b}}:seen:`;

function keysOf(userId: string): { users: string; conns: string; seen: string } {
  const b = bucketOf(userId);
  return { users: usersKey(b), conns: connsPrefix(b) + userId, seen: seenPrefix(b) + userId };
}

/** Redis presence (see the layout above). Times are Redis server time. */
export class RedisPresenceStore implements PresenceStore {
  /** The connection's key prefix: the reap script builds full key names itself. */
  private readonly keyPrefix: string;

  constructor(private readonly connection: RedisConnection) {
    const c = connection.client;
    this.keyPrefix = c.options.keyPrefix ?? '';
    c.defineCommand('parleyPresenceTouch', { numberOfKeys: 2, lua: TOUCH_LUA });
    c.defineCommand('parleyPresenceRemove', { numberOfKeys: 3, lua: REMOVE_LUA });
    c.defineCommand('parleyPresenceReap', { numberOfKeys: 1, lua: REAP_LUA });
  }

  static async open(config: RedisConfig, logger: Logger, opts: RedisOpenOptions = {}): Promise<RedisPresenceStore> {
    return new RedisPresenceStore(await openRedis(config, logger, { ...opts, name: 'presence', keyPrefix: true }));
  }

  private get redis() {
    return this.connection.client;
  }

  async touch(userId: string, connectionId: string, ttlSeconds: number): Promise<{ becameOnline: boolean }> {
    const ms = Math.round(ttlSeconds * 1000);
    if (!(ms > 0)) throw new Error(`ttl must be positive, got ${ttlSeconds}s`);
    const k = keysOf(userId);
    const became = await this.redis.parleyPresenceTouch(k.conns, k.users, connectionId, ms, userId);
    return { becameOnline: Number(became) === 1 };
  }

  async remove(userId: string, connectionId: string): Promise<{ becameOffline: boolean; lastSeenAt: string }> {
    const k = keysOf(userId);
    const [became, now] = await this.redis.parleyPresenceRemove(k.conns, k.users, k.seen, connectionId, userId, SEEN_TTL_SECONDS);
    return { becameOffline: Number(became) === 1, lastSeenAt: new Date(Number(now)).toISOString() };
  }

  async get(userIds: readonly string[]): Promise<Record<string, PresenceState>> {
    const buckets = byBucket(userIds);
    if (buckets.length === 0) return {};
    // `online` (one ZMSCORE of each bucket's `users` set) and, beside it, one MGET of each
    // bucket's `seen` keys (a bucket's keys share a slot, so this holds in a cluster too): at
    // most 33 commands for any number of users, issued together (one round trip), where one
    // ZSCORE and one GET per user cost the worker some 200 commands per message to a room of 100.
    const [online, seens] = await Promise.all([this.online(userIds), Promise.all(buckets.map(([b, members]) => this.redis.mget(...members.map((id) => seenPrefix(b) + id))))]);
    const out: Record<string, PresenceState> = {};
    buckets.forEach(([, members], i) => {
      members.forEach((id, j) => {
        const seen = seens[i]![j] ?? null;
        if (online.has(id)) out[id] = { status: 'online' };
        else out[id] = seen !== null ? { status: 'offline', lastSeenAt: new Date(Number(seen)).toISOString() } : { status: 'offline' };
      });
    });
    return out;
  }

  async online(userIds: readonly string[]): Promise<Set<string>> {
    const buckets = byBucket(userIds);
    const out = new Set<string>();
    if (buckets.length === 0) return out;
    // One ZMSCORE per bucket (what `get` adds, the `seen` values, is most of its reply).
    const [now, replies] = await Promise.all([this.now(), Promise.all(buckets.map(([b, members]) => this.redis.zmscore(usersKey(b), ...members)))]);
    buckets.forEach(([, members], i) => {
      const scores = replies[i]!;
      members.forEach((id, j) => {
        const score = scores[j];
        if (score !== null && score !== undefined && Number(score) > now) out.add(id);
      });
    });
    return out;
  }

  /** Redis server time in ms (expiries are written in it). */
  private async now(): Promise<number> {
    const time = await this.redis.time();
    return Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  }

  async reapExpired(): Promise<{ userId: string; lastSeenAt: string }[]> {
    const batches = await Promise.all(
      Array.from({ length: BUCKETS }, (_, b) =>
        this.redis.parleyPresenceReap(usersKey(b), REAP_BATCH, SEEN_TTL_SECONDS, this.keyPrefix + connsPrefix(b), this.keyPrefix + seenPrefix(b)),
      ),
    );
    const out: { userId: string; lastSeenAt: string }[] = [];
    for (const flat of batches) {
      for (let i = 0; i + 1 < flat.length; i += 2) {
        out.push({ userId: flat[i] as string, lastSeenAt: new Date(Number(flat[i + 1])).toISOString() });
      }
    }
    return out;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
