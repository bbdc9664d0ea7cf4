/**
 * The Redis adapters (key-value, bus, presence):
 * - the three contracts against the in-process adapters and against Redis at REDIS_TEST_URL
 *   (default redis://127.0.0.1:6379), under a random key prefix per run whose keys are
 *   deleted at the end;
 * - Redis-only properties (prefixing, one subscriber connection, the factories);
 * - outages, against a dedicated redis-server on a free port that the test kills and
 *   restarts: the bus reconnects, restores exactly the topics that still have handlers,
 *   fires onReconnect and delivers again; kv and presence calls fail fast, then work again.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createLogger, type Logger } from '../src/logger.js';
import { newId } from '../src/ids.js';
import { keyValueContract } from '../src/platform/kv/kv.contract.js';
import { busContract } from '../src/platform/bus/bus.contract.js';
import { presenceContract } from '../src/platform/presence/presence.contract.js';
import { MemoryKeyValueStore } from '../src/platform/kv/kv.memory.js';
import { MemoryBus } from '../src/platform/bus/bus.memory.js';
import { MemoryPresenceStore } from '../src/platform/presence/presence.memory.js';
import { RedisKeyValueStore } from '../src/platform/kv/kv.redis.js';
import { RedisBus } from '../src/platform/bus/bus.redis.js';
import { RedisPresenceStore } from '../src/platform/presence/presence.redis.js';
import { openKeyValueStore } from '../src/platform/kv/index.js';
import { openBus } from '../src/platform/bus/index.js';
import { openPresenceStore } from '../src/platform/presence/index.js';
import type { RedisConfig } from '../src/platform/redis/redis.connection.js';
import { startRedisServer } from './support/redis-server.js';
import { handles } from './support/handles.js';

const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `parley-test:${randomBytes(6).toString('hex')}:`;
const shared: RedisConfig = { REDIS_URL: REDIS_TEST_URL, REDIS_CLUSTER: false, REDIS_KEY_PREFIX: PREFIX };
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** A plain client without prefix, for looking at what the adapters did. */
function admin(url = REDIS_TEST_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

async function scanKeys(r: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

after(async () => {
  const r = admin();
  try {
    const keys = await scanKeys(r, PREFIX);
    for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
  } finally {
    r.disconnect();
  }
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------- contracts: in-process

describe('kv contract: memory', () => {
  keyValueContract({
    async open() {
      const kv = new MemoryKeyValueStore();
      return { kv, second: async () => kv, dispose: () => kv.close() };
    },
  });
});

describe('bus contract: memory', () => {
  busContract({
    async open() {
      const bus = new MemoryBus();
      return { bus, second: async () => bus, activeTopics: async () => bus.activeTopics(), dispose: () => bus.close() };
    },
  });
});

describe('presence contract: memory', () => {
  presenceContract({
    async open() {
      const store = new MemoryPresenceStore();
      return { store, second: async () => store, dispose: () => store.close() };
    },
  });
});

// ---------------------------------------------------------------- contracts: Redis


describe('kv contract: redis', () => {
  keyValueContract({
    async open() {
      const h = await handles(() => RedisKeyValueStore.open(shared, logger));
      return { kv: h.first, second: h.more, dispose: h.dispose };
    },
  });
});

describe('bus contract: redis', () => {
  busContract({
    async open() {
      const h = await handles(() => RedisBus.open(shared, logger));
      const r = admin();
      return {
        bus: h.first,
        second: h.more,
        // as Redis sees it; the contract's buses are the only subscribers under PREFIX
        activeTopics: async () => ((await r.pubsub('CHANNELS', `${PREFIX}*`)) as string[]).map((c) => c.slice(PREFIX.length)),
        dispose: async () => {
          await h.dispose();
          r.disconnect();
        },
      };
    },
  });
});

describe('presence contract: redis', () => {
  presenceContract({
    async open() {
      const h = await handles(() => RedisPresenceStore.open(shared, logger));
      return { store: h.first, second: h.more, dispose: h.dispose };
    },
  });
});

// ---------------------------------------------------------------- Redis specifics

describe('redis adapters', () => {
  test('the factories choose the Redis adapters when REDIS_URL is set', async () => {
    const config = loadConfig({ REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: PREFIX }, { dotenvPath: null });
    const kv = await openKeyValueStore(config, logger);
    const bus = await openBus(config, logger);
    const presence = await openPresenceStore(config, logger);
    try {
      assert.ok(kv instanceof RedisKeyValueStore);
      assert.ok(bus instanceof RedisBus);
      assert.ok(presence instanceof RedisPresenceStore);
      await kv.ping();
      await bus.ping();
    } finally {
      await Promise.all([kv.close(), bus.close(), presence.close()]);
    }
  });

  test('an unreachable Redis stops startup with an error naming it', async () => {
    const t0 = Date.now();
    const unreachable: RedisConfig = { ...shared, REDIS_URL: 'redis://user:secret@127.0.0.1:1' };
    await assert.rejects(
      () => RedisKeyValueStore.open(unreachable, logger, { readyTimeoutMs: 300 }),
      (err: Error) => {
        assert.match(err.message, /^Redis \(kv\) at redis:\/\/127\.0\.0\.1:1: not ready after 300 ms: .*ECONNREFUSED/);
        assert.ok(!err.message.includes('secret'), 'no credentials in the error');
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 2_000);
  });

  test('every key and channel carries REDIS_KEY_PREFIX', async () => {
    const r = admin();
    const kv = await RedisKeyValueStore.open(shared, logger);
    const presence = await RedisPresenceStore.open(shared, logger);
    const bus = await RedisBus.open(shared, logger);
    const listener = admin();
    try {
      const k = `k:${newId()}`;
      await kv.set(k, 'v');
      await kv.incrWindow(`${k}:n`, 60);
      const u = newId();
      await presence.touch(u, 'c', 60);
      await presence.remove(u, 'c');
      assert.equal(await r.get(`${PREFIX}${k}`), 'v');
      assert.equal(await r.exists(k), 0, 'nothing unprefixed');
      const ours = await scanKeys(r, PREFIX);
      assert.ok(ours.includes(`${PREFIX}${k}:n`));
      assert.ok(ours.some((key) => key.startsWith(`${PREFIX}presence:`) && key.endsWith(`:seen:${u}`)), ours.join(', '));

      // channels: what the bus publishes on topic T is on channel PREFIX+T, and the reverse
      const topic = `conv:${newId()}`;
      const heard: string[] = [];
      listener.on('message', (channel: string, message: string) => heard.push(`${channel}=${message}`));
      await listener.subscribe(`${PREFIX}${topic}`);
      await bus.publish(topic, 'out');
      await until('the raw subscriber to hear it', () => heard.length === 1);
      assert.deepEqual(heard, [`${PREFIX}${topic}=out`]);
      const got: string[] = [];
      await bus.subscribe(topic, (p) => got.push(p));
      await r.publish(`${PREFIX}${topic}`, 'in');
      await until('the bus to hear it', () => got.length === 1);
      assert.deepEqual(got, ['in']);
    } finally {
      listener.disconnect();
      r.disconnect();
      await Promise.all([kv.close(), presence.close(), bus.close()]);
    }
  });
});

// ---------------------------------------------------------------- outages

type Outcome = { ok: true; ms: number } | { ok: false; error: Error; ms: number } | { hung: true };

/** Settles `p` or reports that it hung for `ms`. */
async function within<T>(p: Promise<T>, ms = 2_000): Promise<Outcome> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve({ hung: true }), ms)));
  const settled = p.then(
    (): Outcome => ({ ok: true, ms: Date.now() - t0 }),
    (error: Error): Outcome => ({ ok: false, error, ms: Date.now() - t0 }),
  );
  try {
    return await Promise.race([settled, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Slowest failure seen during the outages (reported at the end). */
let slowestFailureMs = 0;

function assertFailsFast(o: Outcome, what: string): void {
  assert.ok(!('hung' in o), `${what} hung during the outage instead of failing`);
  assert.ok('ok' in o && !o.ok, `${what} succeeded during the outage`);
  slowestFailureMs = Math.max(slowestFailureMs, o.ms);
}

/** A pino logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; messages: () => string[]; logged: (msg: string, redis?: string) => boolean } {
  const lines: { msg: string; redis?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string; redis?: string }) });
  return {
    logger,
    messages: () => lines.map((l) => l.msg),
    logged: (msg, redis) => lines.some((l) => l.msg === msg && (redis === undefined || l.redis === redis)),
  };
}

describe('redis outages (dedicated redis-server, killed and restarted)', () => {
  test('the bus restores its topics, fires onReconnect and delivers again; kv and presence fail fast, then recover', async () => {
    const server = await startRedisServer();
    const config: RedisConfig = { REDIS_URL: server.url, REDIS_CLUSTER: false, REDIS_KEY_PREFIX: 'fault:' };
    const log = capturingLogger();
    const bus = await RedisBus.open(config, log.logger);
    const publisher = await RedisBus.open(config, logger); // another process
    const kv = await RedisKeyValueStore.open(config, logger);
    const presence = await RedisPresenceStore.open(config, logger);
    let reconnects = 0;
    bus.onReconnect(() => reconnects++);

    const look = async <T>(fn: (r: Redis) => Promise<T>): Promise<T> => {
      const r = admin(server.url);
      try {
        return await fn(r);
      } finally {
        r.disconnect();
      }
    };
    const channels = () => look(async (r) => ((await r.pubsub('CHANNELS', 'fault:*')) as string[]).map((c) => c.slice(6)).sort());

    // Background publisher: one message every 5 ms on `keep1`, through the outages.
    let publishing = true;
    let sent = 0;
    let failed = 0;
    const loop = (async () => {
      for (let i = 0; publishing; i++) {
        try {
          await publisher.publish('keep1', `n${i}`);
          sent++;
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    try {
      const a: string[] = [];
      const b: string[] = [];
      const c: string[] = [];
      const dropped: string[] = [];
      await bus.subscribe('keep1', (p) => a.push(p));
      await bus.subscribe('keep1', (p) => b.push(p));
      await bus.subscribe('keep2', (p) => c.push(p));
      const offDuring = await bus.subscribe('dropDuring', (p) => dropped.push(p));
      const offBefore = await bus.subscribe('dropBefore', (p) => dropped.push(p));
      await offBefore();

      // ONE subscriber connection holds every topic of the bus, each subscribed once
      assert.deepEqual(await channels(), ['dropDuring', 'keep1', 'keep2']);
      const numsub = await look((r) => r.pubsub('NUMSUB', 'fault:keep1', 'fault:keep2') as Promise<(string | number)[]>);
      assert.deepEqual(numsub.map(String), ['fault:keep1', '1', 'fault:keep2', '1'], 'two handlers, one SUBSCRIBE');
      const clients = await look((r) => r.client('LIST') as Promise<string>);
      const subscribers = clients.split('\n').filter((l) => / sub=[1-9]/.test(l));
      assert.equal(subscribers.length, 1, `one connection subscribed, got:\n${subscribers.join('\n')}`);
      assert.match(subscribers[0] ?? '', /name=parley:bus-sub .* sub=3 /);

      await until('messages to flow', () => a.length > 5 && b.length > 5);

      for (let outage = 1; outage <= 2; outage++) {
        await server.kill();
        await until('publishes to fail', () => failed > 0);

        // during the outage: errors, promptly, never a hang
        assertFailsFast(await within(kv.get('x')), 'kv.get');
        assertFailsFast(await within(kv.incrWindow('w', 60)), 'kv.incrWindow');
        assertFailsFast(await within(presence.touch('u1', 'c1', 60)), 'presence.touch');
        assertFailsFast(await within(presence.reapExpired()), 'presence.reapExpired');
        assertFailsFast(await within(presence.get(['u1', 'u2'])), 'presence.get');
        assertFailsFast(await within(bus.publish('keep1', 'x')), 'bus.publish');
        assertFailsFast(await within(bus.publishMany(['keep1', 'keep2'], 'x')), 'bus.publishMany');
        assertFailsFast(await within(bus.ping()), 'bus.ping');
        const tNew = `newDuring${outage}`;
        assertFailsFast(await within(bus.subscribe(tNew, () => undefined)), 'bus.subscribe');
        assert.ok(!bus.activeTopics().includes(tNew), 'a failed subscribe leaves nothing behind');
        if (outage === 1) await offDuring(); // the last handler leaves while Redis is away

        const aBefore = a.length;
        const failedBefore = failed;
        await server.restart();

        await until(`onReconnect after outage ${outage}`, () => reconnects === outage);
        // exactly the topics that still have handlers came back; the failed subscribe did not
        assert.deepEqual(await channels(), ['keep1', 'keep2']);
        await until('the background publisher to get through again', () => a.length > aBefore + 5);
        // b joined keep1 a moment after a, while the background publisher was running, so a
        // may hold a message or two from before b was there: from then on they got the same.
        assert.deepEqual(a.slice(a.length - b.length), b, 'both handlers of keep1 are back');
        assert.ok(failed >= failedBefore);

        await publisher.publish('keep2', `after outage ${outage}`);
        await until('keep2 delivery', () => c.at(-1) === `after outage ${outage}`);

        // kv and presence work again once their own connections are back
        await until('kv to work again', async () => 'ok' in (await within(kv.set('back', String(outage)))) && (await kv.get('back').catch(() => null)) === String(outage));
        let touched: { becameOnline: boolean } | undefined;
        await until('presence to work again', async () => {
          touched = await presence.touch(`u-${outage}`, 'c1', 60).catch(() => undefined);
          return touched !== undefined;
        });
        assert.deepEqual(touched, { becameOnline: true });
      }
      assert.deepEqual(dropped, [], 'a topic whose handlers left during the outage was not restored');
      assert.equal(reconnects, 2);
      const msgs = log.messages();
      assert.ok(msgs.includes('redis connection lost; reconnecting'), msgs.join(' | '));
      assert.ok(msgs.includes('redis connection restored'), msgs.join(' | '));
      assert.ok(msgs.includes('bus subscriptions restored'), msgs.join(' | '));
      console.log(`[redis outage] background publishes: ${sent} sent, ${failed} failed; keep1 deliveries: ${a.length}; slowest failure during the outages: ${slowestFailureMs} ms`);
    } finally {
      publishing = false;
      await loop;
      await Promise.all([bus.close(), publisher.close(), kv.close(), presence.close()]);
      await server.stop();
    }
  });

  test('a frozen Redis (silence, no RST) is detected: calls fail within the socket timeout, the bus reconnects after', async () => {
    const server = await startRedisServer();
    const config: RedisConfig = { REDIS_URL: server.url, REDIS_CLUSTER: false, REDIS_KEY_PREFIX: 'frozen:' };
    // production defaults are 5 s and 10 s; shortened so that the test stays short
    const opts = { socketTimeoutMs: 300 };
    const log = capturingLogger();
    const bus = await RedisBus.open(config, log.logger, { ...opts, heartbeatMs: 100 });
    const publisher = await RedisBus.open(config, logger, opts);
    const kv = await RedisKeyValueStore.open(config, logger, opts);
    let reconnects = 0;
    bus.onReconnect(() => reconnects++);
    const got: string[] = [];
    try {
      await bus.subscribe('t', (p) => got.push(p));
      server.pause();
      const o = await within(kv.get('x'), 3_000);
      assertFailsFast(o, 'kv.get against a frozen server');
      assert.ok('ms' in o && o.ms < 1_500, `took ${'ms' in o ? o.ms : '?'} ms`);
      // The idle subscriber has no command in flight: only its heartbeat can notice. (Without
      // it, the old connection would simply carry on after the resume, having silently
      // missed whatever was published during the freeze.)
      await until('the subscriber to notice', () => log.logged('redis connection lost; reconnecting', 'bus-sub'));
      server.resume();
      await until('onReconnect', () => reconnects === 1);
      await publisher.publish('t', 'after the freeze');
      await until('delivery', () => got.includes('after the freeze'));
      await until('kv to work again', async () => 'ok' in (await within(kv.set('k', 'v'))) && (await kv.get('k').catch(() => null)) === 'v');
    } finally {
      server.resume();
      await Promise.all([bus.close(), publisher.close(), kv.close()]);
      await server.stop();
    }
  });

  test('close() quits cleanly, also while Redis is down', async () => {
    const server = await startRedisServer();
    const config: RedisConfig = { REDIS_URL: server.url, REDIS_CLUSTER: false, REDIS_KEY_PREFIX: 'close:' };
    try {
      const bus = await RedisBus.open(config, logger);
      const kv = await RedisKeyValueStore.open(config, logger);
      await bus.subscribe('t', () => undefined);
      await kv.set('k', 'v');
      await Promise.all([bus.close(), kv.close()]);
      const clients = await (async () => {
        const r = admin(server.url);
        try {
          return (await r.client('LIST')) as string;
        } finally {
          r.disconnect();
        }
      })();
      assert.ok(!clients.includes('name=parley:'), `connections left open:\n${clients}`);

      const presence = await RedisPresenceStore.open(config, logger);
      await server.kill();
      const o = await within(presence.close(), 3_000);
      assert.ok(!('hung' in o), 'close hung while Redis was down');
    } finally {
      await server.stop();
    }
  });
});
