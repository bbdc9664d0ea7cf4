/**
 * The bus contract: every adapter (in-process, Redis) must pass it. Run from
 * `test/redis.test.ts`.
 *
 * "Not delivered" is checked without sleeping: after the message that must not arrive, a
 * marker is published on a watched topic from the same handle; messages from one publisher
 * arrive in order, so once the marker is in, the earlier message would have been too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../ids.js';
import type { Bus } from './bus.port.js';

export interface BusFactory {
  open(): Promise<{
    bus: Bus;
    /** Another handle on the same bus (another process; the same instance in memory). */
    second(): Promise<Bus>;
    /** Topics `bus` holds an underlying subscription for, as the backend sees it. */
    activeTopics(): Promise<string[]>;
    dispose(): Promise<void>;
  }>;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function recorder(): { got: string[]; handler: (p: string) => void } {
  const got: string[] = [];
  return { got, handler: (p) => void got.push(p) };
}

export function busContract(factory: BusFactory): void {
  type Ctx = Awaited<ReturnType<BusFactory['open']>>;
  const withBus = (name: string, fn: (ctx: Ctx) => Promise<void>) =>
    test(name, async () => {
      const ctx = await factory.open();
      try {
        await fn(ctx);
      } finally {
        await ctx.dispose();
      }
    });

  withBus('delivers the payload unchanged to every handler of the topic, and only to them', async ({ bus }) => {
    const a = `conv:${newId()}`;
    const b = `conv:${newId()}`;
    const h1 = recorder();
    const h2 = recorder();
    const other = recorder();
    await bus.subscribe(a, h1.handler);
    await bus.subscribe(a, h2.handler);
    await bus.subscribe(b, other.handler);
    const payload = JSON.stringify({ text: 'héllo 👋 "quoted"\n\\ back', big: 'x'.repeat(64 * 1024) });
    await bus.publish(a, payload);
    await bus.publish(b, 'marker');
    await until('delivery', () => h1.got.length === 1 && h2.got.length === 1 && other.got.length === 1);
    assert.equal(h1.got[0], payload, 'the payload string is handed over as published');
    assert.equal(h2.got[0], payload);
    assert.deepEqual(other.got, ['marker'], 'a topic does not see another topic');
    await bus.publish(`conv:${newId()}`, 'nobody listens'); // fine
    await bus.ping();
  });

  withBus('publishMany delivers once on each topic, in order with publish', async ({ bus }) => {
    const topics = Array.from({ length: 5 }, () => `user:${newId()}`);
    const recs = topics.map(() => recorder());
    for (const [i, t] of topics.entries()) await bus.subscribe(t, recs[i]!.handler);
    await bus.publishMany([], 'nothing'); // no-op
    await bus.publishMany(topics, 'm1');
    await bus.publishMany([topics[0]!, topics[2]!], 'm2');
    await bus.publish(topics[0]!, 'm3');
    await until('delivery', () => recs[0]!.got.length === 3 && recs[4]!.got.length === 1);
    assert.deepEqual(recs[0]!.got, ['m1', 'm2', 'm3']);
    assert.deepEqual(recs[1]!.got, ['m1']);
    assert.deepEqual(recs[2]!.got, ['m1', 'm2']);
    assert.deepEqual(recs[4]!.got, ['m1']);
  });

  withBus('messages reach other handles, in publish order', async ({ bus, second }) => {
    const other = await second();
    const t = `conv:${newId()}`;
    const r = recorder();
    await bus.subscribe(t, r.handler);
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const m of sent) await other.publish(t, m);
    await until('all 50', () => r.got.length === 50);
    assert.deepEqual(r.got, sent);
  });

  withBus('reference counting: subscribed with the first handler, dropped with the last', async ({ bus, activeTopics }) => {
    const t = `conv:${newId()}`;
    const watch = `conv:${newId()}`;
    const w = recorder();
    await bus.subscribe(watch, w.handler);
    const h1 = recorder();
    const h2 = recorder();
    const off1 = await bus.subscribe(t, h1.handler);
    const off2 = await bus.subscribe(t, h2.handler);
    assert.deepEqual((await activeTopics()).filter((x) => x === t), [t]);

    await off1();
    await off1(); // removing twice must not take h2's reference with it
    assert.ok((await activeTopics()).includes(t), 'still subscribed while a handler is left');
    await bus.publish(t, 'after off1');
    await bus.publish(watch, 'marker1');
    await until('marker1', () => w.got.length === 1);
    assert.deepEqual(h1.got, [], 'a removed handler gets nothing');
    assert.deepEqual(h2.got, ['after off1']);

    await off2();
    assert.ok(!(await activeTopics()).includes(t), 'unsubscribed with the last handler');
    await bus.publish(t, 'after off2');
    await bus.publish(watch, 'marker2');
    await until('marker2', () => w.got.length === 2);
    assert.deepEqual(h2.got, ['after off1']);

    // and subscribing again works
    const h3 = recorder();
    await bus.subscribe(t, h3.handler);
    assert.ok((await activeTopics()).includes(t));
    await bus.publish(t, 'again');
    await until('again', () => h3.got.length === 1);
  });

  withBus('the same function subscribed twice is two subscriptions', async ({ bus, activeTopics }) => {
    const t = `user:${newId()}`;
    const r = recorder();
    const offA = await bus.subscribe(t, r.handler);
    const offB = await bus.subscribe(t, r.handler);
    await bus.publish(t, 'x');
    await until('two deliveries', () => r.got.length === 2);
    await offA();
    assert.ok((await activeTopics()).includes(t), 'the other subscription keeps the topic');
    await bus.publish(t, 'y');
    await until('one more', () => r.got.length === 3);
    await offB();
    assert.ok(!(await activeTopics()).includes(t));
  });

  withBus('concurrent subscribes and unsubscribes of one topic settle on the right state', async ({ bus, activeTopics }) => {
    const t = `conv:${newId()}`;
    const rs = Array.from({ length: 10 }, () => recorder());
    const offs = await Promise.all(rs.map((r) => bus.subscribe(t, r.handler)));
    await Promise.all(offs.slice(0, 9).map((off) => off()));
    assert.ok((await activeTopics()).includes(t));
    await bus.publish(t, 'last one');
    await until('delivery', () => rs[9]!.got.length === 1);
    // churn: the last handler goes while new ones come
    const [, again] = await Promise.all([offs[9]!(), bus.subscribe(t, rs[0]!.handler)]);
    await bus.publish(t, 'after churn');
    await until('delivery after churn', () => rs[0]!.got.length === 1);
    await again();
    assert.ok(!(await activeTopics()).includes(t));
  });

  withBus('a handler that throws does not stop the other handlers', async ({ bus }) => {
    const t = `conv:${newId()}`;
    const r = recorder();
    await bus.subscribe(t, () => {
      throw new Error('boom (expected by the test)');
    });
    await bus.subscribe(t, r.handler);
    await bus.publish(t, 'one');
    await bus.publish(t, 'two');
    await until('both', () => r.got.length === 2);
    assert.deepEqual(r.got, ['one', 'two']);
  });
}
