/**
 * Redis connections for the Redis adapters (key-value, bus, presence): the one place that
 * decides how Parley talks to Redis during an outage.
 *
 * Failure policy, chosen for a chat server where a request that cannot reach Redis should
 * fail in milliseconds (the client retries; sends are idempotent) rather than pile up:
 * - `enableOfflineQueue: false`: while the connection is down a command is rejected at
 *   once instead of waiting in a queue. With the queue on, every rate-limit check, session
 *   lookup and presence heartbeat issued during an outage would hold a request open until
 *   the queue is flushed, and a burst of them would all run late, at once, on reconnect.
 *   The price is that the first command must wait for `ready`, so `openRedis` waits.
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`: a command in
 *   flight when the connection drops is rejected, never resent. Resending is not safe for
 *   our non-idempotent commands (INCR, the presence scripts) and would only delay the error.
 * - `socketTimeout`: a socket that stops answering while a command waits (a half-open TCP
 *   connection after a network partition, which sends no RST) is destroyed, so the
 *   reconnect logic runs instead of commands hanging until TCP keep-alive gives up.
 * - `retryStrategy`: exponential backoff from 100 ms capped at 2 s, with jitter so that
 *   many processes do not reconnect in lockstep. It never gives up: Redis coming back is
 *   the normal end of an outage, and `/readyz` reports the outage meanwhile.
 * - `enableAutoPipelining` (standalone Redis, every connection but the bus subscriber): the commands issued in
 *   one turn of the event loop go out in one socket write and come back in one read. A
 *   worker asking for the presence of a room's 100 members issues some 300 GETs at once;
 *   without it each was its own write syscall (the worker's largest CPU cost in
 *   `npm run bench`). Replies still resolve per command, in order, so callers see no difference.
 */
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';

export type RedisConfig = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER' | 'REDIS_KEY_PREFIX'>;

/** A standalone client, or a Cluster client when REDIS_CLUSTER is set. */
export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  /** Shown in logs and in CLIENT LIST (`parley:<name>`). */
  name: string;
  /**
   * Give every key REDIS_KEY_PREFIX (ioredis `keyPrefix`). Off for the bus: pub/sub channel
   * names are not keys for PUBLISH/SUBSCRIBE (ioredis would not prefix them) but are for
   * SPUBLISH/SSUBSCRIBE (it would), so the bus prefixes its channels itself, consistently.
   */
  keyPrefix: boolean;
  /** Cluster only: open sharded subscriber connections (SSUBSCRIBE), one per master. */
  shardedSubscriber?: boolean;
  /** The connection only subscribes: no auto-pipelining (it sends a handful of SUBSCRIBEs, never a burst). */
  subscriber?: boolean;
  /** How long `openRedis` waits for the first `ready` before giving up. Default 10 s. */
  readyTimeoutMs?: number;
  /** Largest delay between reconnection attempts. Default 2 s. */
  maxRetryDelayMs?: number;
  /** A socket silent for this long while a command waits is dropped. Default 5 s. */
  socketTimeoutMs?: number;
}

/** What callers of the adapters' `open()` may tune (tests shorten the waits). */
export type RedisOpenOptions = Pick<RedisConnectionOptions, 'readyTimeoutMs' | 'maxRetryDelayMs' | 'socketTimeoutMs'>;

export interface RedisConnection {
  readonly client: RedisClient;
  readonly cluster: boolean;
  /** QUIT after the commands in flight (or drop the socket if it is down); stops reconnecting. */
  close(): Promise<void>;
}

const SOCKET_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** Capped exponential backoff with jitter (`times` starts at 1). */
export function reconnectDelay(times: number, capMs = 2_000): number {
  const base = Math.min(100 * 2 ** Math.min(times - 1, 16), capMs);
  return base + Math.floor(Math.random() * 100);
}

/** Where REDIS_URL points, without credentials (for logs and errors). */
export function describeRedisUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}:${u.port || '6379'}`;
}

function commonOptions(opts: RedisConnectionOptions): RedisOptions {
  return {
    connectionName: `parley:${opts.name}`,
    connectTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: opts.socketTimeoutMs ?? SOCKET_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The bus restores its own subscriptions after a reconnect (only the topics that still
    // have handlers, and it must know when that is done to fire onReconnect).
    autoResubscribe: false,
    enableAutoPipelining: !opts.subscriber,
  };
}

function createClient(config: RedisConfig, opts: RedisConnectionOptions): RedisClient {
  const url = config.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set');
  const keyPrefix = opts.keyPrefix ? config.REDIS_KEY_PREFIX : undefined;
  const cap = opts.maxRetryDelayMs ?? 2_000;
  if (!config.REDIS_CLUSTER) {
    return new Redis(url, { ...commonOptions(opts), keyPrefix, retryStrategy: (times) => reconnectDelay(times, cap) });
  }
  // Cluster (tested on a real one: test/redis-cluster.test.ts).
  // REDIS_URL is one seed node; ioredis discovers the others with CLUSTER SLOTS.
  const u = new URL(url);
  // No auto-pipelining on a cluster: after a failover, ioredis kept the auto-pipelined
  // SPUBLISHes of the dead master's slots from ever going out (test/redis-cluster.test.ts,
  // "a master killed"), where plain commands follow the new slot map.
  const { enableOfflineQueue: _queue, enableAutoPipelining: _pipelining, ...redisOptions } = commonOptions(opts);
  const options: ClusterOptions = {
    keyPrefix,
    enableOfflineQueue: false,
    clusterRetryStrategy: (times) => reconnectDelay(times, cap),
    shardedSubscribers: opts.shardedSubscriber ?? false,
    redisOptions: {
      ...redisOptions,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      tls: u.protocol === 'rediss:' ? {} : undefined,
    },
  };
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], options);
}

/**
 * Logs the transitions that matter to an operator: connection lost (once per outage, not
 * once per failed attempt) and restored (with how long it was down).
 */
function watch(client: RedisClient, logger: Logger, name: string, isClosing: () => boolean): { lastError(): Error | undefined } {
  const log = logger.child({ redis: name });
  let ready = false;
  let lostAt: number | undefined;
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    lastError = err;
    // Every failed reconnection attempt emits an error; the first of an outage is enough.
    if (lostAt === undefined && ready) log.warn({ err }, 'redis connection error');
    else log.debug({ err }, 'redis connection error');
  });
  client.on('close', () => {
    if (isClosing() || !ready || lostAt !== undefined) return;
    lostAt = Date.now();
    log.warn({ err: lastError }, 'redis connection lost; reconnecting');
  });
  client.on('reconnecting', (delayMs: unknown) => log.debug({ delayMs }, 'redis reconnecting'));
  client.on('ready', () => {
    if (lostAt !== undefined) log.info({ downMs: Date.now() - lostAt }, 'redis connection restored');
    ready = true;
    lostAt = undefined;
  });
  return { lastError: () => lastError };
}

function waitReady(client: RedisClient, timeoutMs: number, lastError: () => Error | undefined): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      const cause = lastError();
      reject(new Error(`not ready after ${timeoutMs} ms${cause ? `: ${cause.message}` : ''}`, { cause }));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}

/**
 * Opens a connection and waits until it is ready (commands fail fast, so a client that is
 * not ready yet would reject them). Throws, having stopped reconnecting, when Redis is not
 * reachable within `readyTimeoutMs`: a misconfigured or absent Redis stops startup.
 */
export async function openRedis(config: RedisConfig, logger: Logger, opts: RedisConnectionOptions): Promise<RedisConnection> {
  const client = createClient(config, opts);
  let closing = false;
  const { lastError } = watch(client, logger, opts.name, () => closing);
  const connection: RedisConnection = {
    client,
    cluster: client instanceof Cluster,
    async close() {
      if (closing) return;
      closing = true;
      if (client.status === 'ready') {
        try {
          await client.quit();
          return;
        } catch {
          // fall through: the connection broke while quitting
        }
      }
      client.disconnect();
    },
  };
  try {
    await waitReady(client, opts.readyTimeoutMs ?? 10_000, lastError);
  } catch (err) {
    await connection.close();
    throw new Error(`Redis (${opts.name}) at ${describeRedisUrl(config.REDIS_URL)}: ${(err as Error).message}`, { cause: err });
  }
  return connection;
}
