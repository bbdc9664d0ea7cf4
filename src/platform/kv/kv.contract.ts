/**
 * The key-value contract: every adapter (in-process, Redis) must pass it. Run from
 * `test/redis.test.ts`. Expiry is tested with 1 s TTLs and polling, never long sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../ids.js';
import type { KeyValueStore } from './kv.port.js';

export interface KeyValueStoreFactory {
  /** A store; `second` opens another handle on the same data (another process). */
  open(): Promise<{ kv: KeyValueStore; second(): Promise<KeyValueStore>; dispose(): Promise<void> }>;
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function keyValueContract(factory: KeyValueStoreFactory): void {
  const withKv = (name: string, fn: (kv: KeyValueStore, second: () => Promise<KeyValueStore>) => Promise<void>) =>
    test(name, async () => {
      const { kv, second, dispose } = await factory.open();
      try {
        await fn(kv, second);
      } finally {
        await dispose();
      }
    });

  withKv('get, set, overwrite, del', async (kv) => {
    const k = `t:${newId()}`;
    assert.equal(await kv.get(k), null);
    await kv.set(k, 'one');
    assert.equal(await kv.get(k), 'one');
    await kv.set(k, 'two ✓ "quoted"\nline');
    assert.equal(await kv.get(k), 'two ✓ "quoted"\nline', 'values come back byte for byte');
    await kv.del(k);
    assert.equal(await kv.get(k), null);
    await kv.del(k); // deleting a missing key is fine
    await kv.ping();
  });

  withKv('getMany: values in the order asked, null where missing', async (kv) => {
    const [a, b, c] = [`t:${newId()}`, `t:${newId()}`, `t:${newId()}`];
    await kv.set(a, 'A');
    await kv.set(c, 'C', 60);
    assert.deepEqual(await kv.getMany([c, b, a, a]), ['C', null, 'A', 'A']);
    assert.deepEqual(await kv.getMany([]), []);
    await kv.del(a);
    await kv.del(c);
  });

  withKv('a handle sees what another wrote', async (kv, second) => {
    const other = await second();
    const k = `t:${newId()}`;
    await kv.set(k, 'shared');
    assert.equal(await other.get(k), 'shared');
    await other.del(k);
    assert.equal(await kv.get(k), null);
  });

  withKv('ttl: set and setIfAbsent keys expire; set without ttl clears the ttl', async (kv) => {
    const expiring = `t:${newId()}`;
    const claim = `t:${newId()}`;
    const kept = `t:${newId()}`;
    await kv.set(expiring, 'v', 1);
    assert.equal(await kv.setIfAbsent(claim, 'c', 1), true);
    await kv.set(kept, 'old', 1);
    await kv.set(kept, 'new'); // SET without EX: no lifetime any more
    assert.equal(await kv.get(expiring), 'v');
    await until('the key to expire', async () => (await kv.get(expiring)) === null);
    await until('the claim to expire', async () => (await kv.get(claim)) === null);
    assert.equal(await kv.setIfAbsent(claim, 'again', 1), true, 'an expired claim can be taken again');
    assert.equal(await kv.get(kept), 'new');
  });

  withKv('setIfAbsent: only the first caller wins, also concurrently and across handles', async (kv, second) => {
    const other = await second();
    const k = `t:${newId()}`;
    assert.equal(await kv.setIfAbsent(k, 'first'), true);
    assert.equal(await kv.setIfAbsent(k, 'second'), false);
    assert.equal(await kv.get(k), 'first', 'the loser does not overwrite');
    await kv.del(k);
    assert.equal(await kv.setIfAbsent(k, 'after del'), true);

    const race = `t:${newId()}`;
    const wins = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? kv : other).setIfAbsent(race, `v${i}`, 30)));
    assert.equal(wins.filter(Boolean).length, 1);
    const winner = wins.indexOf(true);
    assert.equal(await kv.get(race), `v${winner}`);
  });

  withKv('incrWindow counts within a fixed window and starts over after it', async (kv, second) => {
    const other = await second();
    const k = `t:${newId()}`;
    const first = await kv.incrWindow(k, 1);
    assert.equal(first.count, 1);
    assert.ok(first.ttlMs > 0 && first.ttlMs <= 1000, `ttlMs ${first.ttlMs}`);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? kv : other).incrWindow(k, 1)));
    assert.deepEqual(
      results.map((r) => r.count).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 2),
      'concurrent increments are counted once each',
    );
    // later increments do not extend the window
    for (const r of results) assert.ok(r.ttlMs <= first.ttlMs, `window extended: ${r.ttlMs} > ${first.ttlMs}`);
    await until('the window to end', async () => (await kv.get(k)) === null);
    const next = await kv.incrWindow(k, 1);
    assert.equal(next.count, 1, 'a new window starts at 1');
    assert.ok(next.ttlMs > 0 && next.ttlMs <= 1000);
  });

  withKv('incrWindow by n counts n at once, in the same window', async (kv) => {
    const k = `t:${newId()}`;
    assert.equal((await kv.incrWindow(k, 60, 5)).count, 5);
    assert.equal((await kv.incrWindow(k, 60)).count, 6);
    const r = await kv.incrWindow(k, 60, 3);
    assert.equal(r.count, 9);
    assert.ok(r.ttlMs > 0 && r.ttlMs <= 60_000);
  });

  withKv('incrWindow gives a counter that had no lifetime the window', async (kv) => {
    const k = `t:${newId()}`;
    await kv.set(k, '5');
    const r = await kv.incrWindow(k, 60);
    assert.equal(r.count, 6);
    assert.ok(r.ttlMs > 0 && r.ttlMs <= 60_000, `ttlMs ${r.ttlMs}: a counter without expiry would never reset`);
  });
}
