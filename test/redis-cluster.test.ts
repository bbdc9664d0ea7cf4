/**
 * The Redis adapters on a real Redis Cluster (three masters, three replicas, started by
 * test/support/redis-cluster.ts from Debian's redis-server) with REDIS_CLUSTER=true:
 * - the kv (sessions, rate-limit windows), bus and presence contracts;
 * - sharded pub/sub really is sharded: the topics of one bus spread over every master;
 * - a master killed with SIGKILL: its replica is promoted, the bus re-subscribes its
 *   channels on the new master and fires onReconnect (gateways then send sync.required),
 *   publishing and the kv work again.
 * The cluster is the test's own (free loopback ports) and is removed at the end. When it
 * cannot be started the suite fails: nothing here is skipped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../src/logger.js';
import { keyValueContract } from '../src/platform/kv/kv.contract.js';
import { busContract } from '../src/platform/bus/bus.contract.js';
import { presenceContract } from '../src/platform/presence/presence.contract.js';
import { RedisKeyValueStore } from '../src/platform/kv/kv.redis.js';
import { RedisBus } from '../src/platform/bus/bus.redis.js';
import { RedisPresenceStore } from '../src/platform/presence/presence.redis.js';
import { openBus } from '../src/platform/bus/index.js';
import { loadConfig } from '../src/config.js';
import type { RedisConfig } from '../src/platform/redis/redis.connection.js';
import { startRedisCluster, type RedisClusterTest } from './support/redis-cluster.js';
import { handles } from './support/handles.js';

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const PREFIX = `parley-test:${randomBytes(6).toString('hex')}:`;
// Tests shorten the waits: failover takes ~2-4 s, and the adapters must ride it out.
const FAST = { readyTimeoutMs: 20_000, maxRetryDelayMs: 300, socketTimeoutMs: 2_000 };

let cluster: RedisClusterTest;
let shared: RedisConfig;

before(async () => {
  cluster = await startRedisCluster();
  shared = { REDIS_URL: cluster.url, REDIS_CLUSTER: true, REDIS_KEY_PREFIX: PREFIX };
});
after(async () => {
  await cluster?.stop();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sharded channels under PREFIX that each live master holds subscriptions for. */
async function shardChannelsByMaster(): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const port of await cluster.masters()) {
    const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      out.set(port, (await r.call('PUBSUB', 'SHARDCHANNELS', `${PREFIX}*`)) as string[]);
    } finally {
      r.disconnect();
    }
  }
  return out;
}


describe('kv contract: redis cluster', () => {
  keyValueContract({
    async open() {
      const h = await handles(() => RedisKeyValueStore.open(shared, logger, FAST));
      return { kv: h.first, second: h.more, dispose: h.dispose };
    },
  });
});

describe('bus contract: redis cluster (SSUBSCRIBE/SPUBLISH)', () => {
  busContract({
    async open() {
      const h = await handles(() => RedisBus.open(shared, logger, FAST));
      return {
        bus: h.first,
        second: h.more,
        activeTopics: async () => [...(await shardChannelsByMaster()).values()].flat().map((c) => c.slice(PREFIX.length)),
        dispose: h.dispose,
      };
    },
  });
});

describe('presence contract: redis cluster', () => {
  presenceContract({
    async open() {
      const h = await handles(() => RedisPresenceStore.open(shared, logger, FAST));
      return { store: h.first, second: h.more, dispose: h.dispose };
    },
  });
});

describe('redis cluster specifics', () => {
  test('the factory opens the sharded bus for REDIS_CLUSTER, and topics spread over every master', async () => {
    const config = loadConfig({ REDIS_URL: cluster.url, REDIS_CLUSTER: 'true', REDIS_KEY_PREFIX: PREFIX }, { dotenvPath: null });
    const bus = await openBus(config, logger);
    try {
      assert.ok(bus instanceof RedisBus);
      const got = new Map<string, number>();
      const topics = Array.from({ length: 48 }, (_, i) => `spread:${i}`);
      await Promise.all(topics.map((t) => bus.subscribe(t, () => got.set(t, (got.get(t) ?? 0) + 1))));
      const byMaster = await shardChannelsByMaster();
      assert.equal(byMaster.size, 3);
      for (const [port, channels] of byMaster) assert.ok(channels.length > 0, `master ${port} holds some of the topics`);
      assert.equal([...byMaster.values()].flat().length, topics.length);
      await bus.publishMany(topics, 'x');
      await until('every topic delivered once', () => topics.every((t) => got.get(t) === 1));
    } finally {
      await bus.close();
    }
  });

  test('a master killed: its replica takes over, the bus resubscribes, fires onReconnect and delivers; kv recovers', async () => {
    const bus = await RedisBus.open(shared, logger, FAST);
    const kv = await RedisKeyValueStore.open(shared, logger, FAST);
    const publisher = await RedisBus.open(shared, logger, FAST);
    try {
      const topics = Array.from({ length: 24 }, (_, i) => `failover:${i}`);
      const got = new Map<string, string[]>();
      await Promise.all(topics.map((t) => bus.subscribe(t, (p) => got.set(t, [...(got.get(t) ?? []), p]))));
      let reconnects = 0;
      bus.onReconnect(() => reconnects++);
      await publisher.publishMany(topics, 'before');
      await until('delivery before the failover', () => topics.every((t) => got.get(t)?.includes('before')));

      // Kill the master that serves the first topic's channel (and a key we then use).
      const victim = await cluster.masterOf(`${PREFIX}${topics[0]}`);
      await cluster.killNode(victim);
      await cluster.waitHealthy(60_000);
      await until('onReconnect after the shard subscriber was replaced', () => reconnects > 0, 60_000);

      // Publishing may need a moment while ioredis refreshes its slot map: retry until it goes.
      await until(
        'every topic delivers after the failover',
        async () => {
          try {
            await publisher.publishMany(topics, 'after');
          } catch {
            return false;
          }
          await new Promise((r) => setTimeout(r, 50));
          return topics.every((t) => got.get(t)?.includes('after'));
        },
        60_000,
      );
      await until('kv answers again', async () => {
        try {
          await kv.set('after-failover', 'ok');
          return (await kv.get('after-failover')) === 'ok';
        } catch {
          return false;
        }
      });
    } finally {
      await Promise.all([bus.close(), kv.close(), publisher.close()]);
    }
  });
});
