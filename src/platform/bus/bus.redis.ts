import type { Logger } from '../../logger.js';
import { openRedis, type RedisConfig, type RedisConnection, type RedisOpenOptions } from '../redis/redis.connection.js';
import type { Bus, BusHandler } from './bus.port.js';

/** One subscribe() call: an object of its own, so the same function subscribed twice counts twice. */
interface Subscription {
  readonly handler: BusHandler;
}

/** A topic with at least one handler; `ready` settles when its SUBSCRIBE was answered. */
interface TopicState {
  readonly subs: Set<Subscription>;
  ready: Promise<void>;
}

export interface RedisBusOptions extends RedisOpenOptions {
  /** Interval of the PING that detects a dead subscriber socket on a quiet bus. Default 10 s. */
  heartbeatMs?: number;
}

/** Channels per SUBSCRIBE when restoring subscriptions (keeps each command a sane size). */
const RESUBSCRIBE_CHUNK = 1000;

/**
 * Redis pub/sub bus. PUBLISH goes through a command connection; every SUBSCRIBE of this bus
 * goes through ONE subscriber connection, on which topics are reference-counted: SUBSCRIBE
 * with the first handler of a topic, UNSUBSCRIBE with the last.
 *
 * Channels are `REDIS_KEY_PREFIX + topic`, prefixed here on both sides (the connections of
 * the bus have no ioredis keyPrefix; see redis.connection.ts).
 *
 * After the subscriber connection comes back, the bus itself SUBSCRIBEs every topic that
 * still has handlers (ioredis' autoResubscribe is off: it would restore the subscriptions
 * of the moment of the loss, including topics whose handlers left during the outage, and
 * would not say when it is done), then fires the onReconnect listeners.
 *
 * Redis Cluster (REDIS_CLUSTER): sharded pub/sub, SPUBLISH/SSUBSCRIBE and 'smessage'; ioredis
 * keeps one subscriber connection per shard and restores the channels itself after topology
 * changes, announced by 'subscribersReady'. test/redis-cluster.test.ts runs the contract on a
 * real 3-master cluster and kills a master to check the failover path.
 */
export class RedisBus implements Bus {
  private readonly topics = new Map<string, TopicState>();
  private readonly reconnectListeners: (() => void)[] = [];
  private readonly sharded: boolean;
  private readonly heartbeat: NodeJS.Timeout;
  private lost = false;
  private closed = false;

  constructor(
    private readonly publisher: RedisConnection,
    private readonly subscriber: RedisConnection,
    private readonly prefix: string,
    private readonly logger: Logger,
    opts: RedisBusOptions = {},
  ) {
    this.sharded = subscriber.cluster;
    const sub = subscriber.client;
    sub.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => this.dispatch(channel, message));
    if (this.sharded) {
      // ioredis replaces a failed shard subscriber ('-subscriber'), re-SSUBSCRIBEs its
      // channels, then emits 'subscribersReady'.
      sub.on('-subscriber', () => {
        if (!this.closed) this.lost = true;
      });
      sub.on('subscribersReady', () => {
        if (!this.lost || this.closed) return;
        this.lost = false;
        this.fireReconnect();
      });
    } else {
      sub.on('close', () => {
        if (!this.closed) this.lost = true;
      });
      sub.on('ready', () => {
        if (this.lost && !this.closed) void this.restore();
      });
    }
    // socketTimeout (redis.connection.ts) only fires while a command waits for its reply; a
    // quiet subscriber sends none, so without this a half-open socket would go unnoticed
    // and the bus would silently stop delivering. (Standalone only: a Cluster's PING goes to
    // a regular node connection, not to the shard subscribers ioredis manages.)
    this.heartbeat = setInterval(() => {
      if (!this.sharded && sub.status === 'ready') sub.ping().catch(() => undefined);
    }, opts.heartbeatMs ?? 10_000);
    this.heartbeat.unref();
  }

  static async open(config: RedisConfig, logger: Logger, opts: RedisBusOptions = {}): Promise<RedisBus> {
    const conn: RedisOpenOptions = { readyTimeoutMs: opts.readyTimeoutMs, maxRetryDelayMs: opts.maxRetryDelayMs, socketTimeoutMs: opts.socketTimeoutMs };
    const publisher = await openRedis(config, logger, { ...conn, name: 'bus-pub', keyPrefix: false });
    try {
      const subscriber = await openRedis(config, logger, { ...conn, name: 'bus-sub', keyPrefix: false, shardedSubscriber: true, subscriber: true });
      return new RedisBus(publisher, subscriber, config.REDIS_KEY_PREFIX, logger, opts);
    } catch (err) {
      await publisher.close();
      throw err;
    }
  }

  private channel(topic: string): string {
    return this.prefix + topic;
  }

  private dispatch(channel: string, payload: string): void {
    if (!channel.startsWith(this.prefix)) return;
    const state = this.topics.get(channel.slice(this.prefix.length));
    if (!state) return; // unsubscribed while the message was on its way
    for (const s of [...state.subs]) {
      try {
        s.handler(payload);
      } catch (err) {
        // one faulty handler must not starve the others of the topic
        this.logger.error({ err, channel }, 'bus handler threw');
      }
    }
  }

  async publish(topic: string, payload: string): Promise<void> {
    const c = this.publisher.client;
    if (this.sharded) await c.spublish(this.channel(topic), payload);
    else await c.publish(this.channel(topic), payload);
  }

  async publishMany(topics: readonly string[], payload: string): Promise<void> {
    if (topics.length === 0) return;
    const c = this.publisher.client;
    if (this.sharded) {
      // A cluster pipeline must stay on one node; these channels live on many. Issued
      // together they still leave in one round trip per node.
      await Promise.all(topics.map((t) => c.spublish(this.channel(t), payload)));
      return;
    }
    const pipeline = c.pipeline();
    for (const t of topics) pipeline.publish(this.channel(t), payload);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  private sendSubscribe(channels: string[]): Promise<unknown> {
    const c = this.subscriber.client;
    return this.sharded ? c.ssubscribe(...channels) : c.subscribe(...channels);
  }

  private sendUnsubscribe(channel: string): Promise<unknown> {
    const c = this.subscriber.client;
    return this.sharded ? c.sunsubscribe(channel) : c.unsubscribe(channel);
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('bus is closed');
    const sub: Subscription = { handler };
    let state = this.topics.get(topic);
    if (!state) {
      const created: TopicState = { subs: new Set(), ready: Promise.resolve() };
      created.ready = this.sendSubscribe([this.channel(topic)]).then(() => undefined);
      // Registered before any waiter's await, so it runs first: when SUBSCRIBE fails the topic
      // is forgotten before anyone can join it believing it subscribed. The next subscribe()
      // starts afresh with its own SUBSCRIBE.
      created.ready.catch(() => {
        if (this.topics.get(topic) === created) this.topics.delete(topic);
      });
      this.topics.set(topic, created);
      state = created;
    }
    state.subs.add(sub);
    // Resolve only once Redis confirmed the subscription: a publish after `await subscribe()`
    // must reach the handler. Fails (fast) when the subscriber connection is down; the caller
    // then has no subscription, rather than one that silently receives nothing.
    await state.ready;
    const owner = state;
    return async () => {
      if (!owner.subs.delete(sub)) return; // already removed: a second call is a no-op
      if (owner.subs.size > 0 || this.topics.get(topic) !== owner) return;
      this.topics.delete(topic);
      try {
        // Sent after this topic's SUBSCRIBE on the same connection, so Redis sees them in order;
        // a later subscribe() of the topic sends its SUBSCRIBE after this.
        await this.sendUnsubscribe(this.channel(topic));
      } catch (err) {
        // Connection down: the server dropped the subscription with it, and the topic (no
        // longer in `topics`) will not be restored on reconnect.
        this.logger.debug({ err, topic }, 'bus unsubscribe failed');
      }
    };
  }

  /** Standalone only: SUBSCRIBE every topic that still has handlers, then tell the listeners. */
  private async restore(): Promise<void> {
    this.lost = false;
    const channels = [...this.topics.keys()].map((t) => this.channel(t));
    try {
      for (let i = 0; i < channels.length; i += RESUBSCRIBE_CHUNK) {
        await this.sendSubscribe(channels.slice(i, i + RESUBSCRIBE_CHUNK));
      }
    } catch (err) {
      // Lost again meanwhile ('close' set `lost`, the next 'ready' retries), or refused.
      this.logger.warn({ err, topics: channels.length }, 'bus could not restore its subscriptions');
      this.lost = true;
      return;
    }
    this.logger.info({ topics: channels.length }, 'bus subscriptions restored');
    this.fireReconnect();
  }

  private fireReconnect(): void {
    for (const l of [...this.reconnectListeners]) {
      try {
        l();
      } catch (err) {
        this.logger.error({ err }, 'bus onReconnect listener threw');
      }
    }
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async ping(): Promise<void> {
    // Both halves: a bus that can publish but not receive is not healthy.
    await Promise.all([this.publisher.client.ping(), this.subscriber.client.ping()]);
  }

  /** Topics with at least one handler (tests, diagnostics). */
  activeTopics(): string[] {
    return [...this.topics.keys()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.topics.clear();
    this.reconnectListeners.length = 0;
    await Promise.all([this.subscriber.close(), this.publisher.close()]);
  }
}
