/**
 * The presence contract: every adapter (in-process, Redis) must pass it. Run from
 * `test/redis.test.ts`. Expiry is tested with 1 s TTLs and polling, never long sleeps.
 *
 * The rule behind the offline cases: a user is reported offline exactly once per online
 * period, either by remove() (becameOffline) or by reapExpired(), never by both, and
 * never by two reapers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../../ids.js';
import type { PresenceStore } from './presence.port.js';

export interface PresenceStoreFactory {
  /** A store; `second` opens another handle on the same data (another process). */
  open(): Promise<{ store: PresenceStore; second(): Promise<PresenceStore>; dispose(): Promise<void> }>;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 4_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertRecentIso(value: string | undefined, what: string): void {
  assert.ok(value, `${what}: missing`);
  const t = Date.parse(value);
  assert.equal(new Date(t).toISOString(), value, `${what}: ISO 8601`);
  assert.ok(Math.abs(Date.now() - t) < 10_000, `${what}: ${value} is not recent`);
}

export function presenceContract(factory: PresenceStoreFactory): void {
  const withStore = (name: string, fn: (s: PresenceStore, second: () => Promise<PresenceStore>) => Promise<void>) =>
    test(name, async () => {
      const { store, second, dispose } = await factory.open();
      try {
        await fn(store, second);
      } finally {
        await dispose();
      }
    });

  /** Reaps (from any handle) until `userId` shows up; returns everything reaped meanwhile. */
  async function reapUntil(stores: PresenceStore[], userId: string): Promise<{ userId: string; lastSeenAt: string }[]> {
    const all: { userId: string; lastSeenAt: string }[] = [];
    await until(`${userId} to be reaped`, async () => {
      for (const s of stores) all.push(...(await s.reapExpired()));
      return all.some((r) => r.userId === userId);
    });
    return all;
  }

  withStore('online() over many users at once: each answer is its own (every bucket, hundreds of users in each)', async (s) => {
    const users = Array.from({ length: 9_000 }, () => newId());
    const live = users.filter((_, i) => i % 3 === 0);
    const gone = users.filter((_, i) => i % 3 === 1);
    for (let i = 0; i < live.length; i += 500) await Promise.all(live.slice(i, i + 500).map((u) => s.touch(u, 'c', 60)));
    for (let i = 0; i < gone.length; i += 500) {
      await Promise.all(gone.slice(i, i + 500).map((u) => s.touch(u, 'c', 60)));
      await Promise.all(gone.slice(i, i + 500).map((u) => s.remove(u, 'c')));
    }
    assert.deepEqual(await s.online([...users].reverse()), new Set(live));
    assert.deepEqual(await s.online(gone), new Set());
    assert.deepEqual(await s.online([live[7]!, gone[7]!, live[7]!]), new Set([live[7]]));
  });

  withStore('online with the first connection, offline with the last', async (s) => {
    const u = newId();
    const stranger = newId();
    assert.deepEqual(await s.touch(u, 'c1', 60), { becameOnline: true });
    assert.deepEqual(await s.touch(u, 'c2', 60), { becameOnline: false });
    assert.deepEqual(await s.touch(u, 'c1', 60), { becameOnline: false }, 'a heartbeat is not a new session');
    assert.deepEqual(await s.get([u, stranger]), { [u]: { status: 'online' }, [stranger]: { status: 'offline' } });
    assert.deepEqual(await s.get([]), {});
    assert.deepEqual(await s.online([u, stranger, u]), new Set([u]));
    assert.deepEqual(await s.online([]), new Set());

    const r1 = await s.remove(u, 'c1');
    assert.equal(r1.becameOffline, false, 'c2 is still live');
    assert.equal((await s.get([u]))[u]?.status, 'online');
    const r2 = await s.remove(u, 'c2');
    assert.equal(r2.becameOffline, true);
    assertRecentIso(r2.lastSeenAt, 'lastSeenAt');
    const after = (await s.get([u]))[u];
    assert.equal(after?.status, 'offline');
    assert.deepEqual(await s.online([u]), new Set());
    assert.equal(after?.lastSeenAt, r2.lastSeenAt);

    const again = await s.remove(u, 'c2');
    assert.equal(again.becameOffline, false, 'removing twice reports offline once');
    assert.equal((await s.remove(newId(), 'never')).becameOffline, false);
    assert.deepEqual(await s.touch(u, 'c3', 60), { becameOnline: true }, 'back online');
    assert.ok(!(await s.reapExpired()).some((r) => r.userId === u));
  });

  withStore('connections expire; reapExpired reports each user once, and renewals keep users online', async (s, second) => {
    const other = await second();
    const gone = newId();
    const renewed = newId();
    const removed = newId();
    await s.touch(gone, 'g1', 1);
    await other.touch(gone, 'g2', 1); // from another gateway
    await s.touch(renewed, 'r1', 1);
    await s.touch(removed, 'x1', 1);
    await sleep(500);
    await s.touch(renewed, 'r1', 1); // heartbeat: now lives until ~1.5 s
    await until('the first connections to expire', async () => (await s.get([gone]))[gone]?.status === 'offline');
    assert.equal((await s.get([renewed]))[renewed]?.status, 'online', 'the renewed user is still online');
    // expired but not reaped yet: removing the (expired) connection reports the user offline,
    // and then reapExpired must not report them a second time
    const rem = await s.remove(removed, 'x1');
    assert.equal(rem.becameOffline, true, 'nobody had reported this user offline yet');

    const reaped = await reapUntil([s, other], gone);
    const mine = reaped.filter((r) => r.userId === gone);
    assert.equal(mine.length, 1, 'one report for the user, not one per connection');
    assertRecentIso(mine[0]?.lastSeenAt, 'reaped lastSeenAt');
    assert.ok(!reaped.some((r) => r.userId === renewed), 'a live user is not reaped');
    assert.ok(!reaped.some((r) => r.userId === removed), 'already reported by remove()');
    assert.ok(!(await s.reapExpired()).some((r) => r.userId === gone), 'reaped once');
    const g = (await s.get([gone]))[gone];
    assert.equal(g?.status, 'offline');
    assert.equal(g?.lastSeenAt, mine[0]?.lastSeenAt, 'get shows when the reaped user was last seen');
    assert.equal((await s.remove(gone, 'g1')).becameOffline, false, 'a late close after the reap is not a second offline');

    // the renewed user expires in turn
    const later = await reapUntil([s], renewed);
    assert.equal(later.filter((r) => r.userId === renewed).length, 1);
  });

  withStore('a user whose connections expired comes back online with a touch, and is not reaped', async (s) => {
    const u = newId();
    await s.touch(u, 'old', 1);
    await until('expiry', async () => (await s.get([u]))[u]?.status === 'offline');
    assert.deepEqual(await s.touch(u, 'new', 60), { becameOnline: true });
    assert.equal((await s.get([u]))[u]?.status, 'online');
    assert.ok(!(await s.reapExpired()).some((r) => r.userId === u));
    assert.equal((await s.remove(u, 'old')).becameOffline, false, 'the expired connection going changes nothing');
    assert.equal((await s.remove(u, 'new')).becameOffline, true);
  });

  withStore('concurrent reapers across handles claim each user exactly once', async (s, second) => {
    const handles = [s, await second(), await second()];
    const users = Array.from({ length: 30 }, () => newId());
    await Promise.all(users.map((u, i) => handles[i % 3]!.touch(u, `c-${u}`, 1)));
    await until('expiry', async () => Object.values(await s.get(users)).every((p) => p.status === 'offline'));
    const reports = (await Promise.all(Array.from({ length: 6 }, (_, i) => handles[i % 3]!.reapExpired()))).flat();
    const ours = reports.filter((r) => users.includes(r.userId)).map((r) => r.userId);
    assert.equal(ours.length, users.length, 'no user reported twice or missed');
    assert.deepEqual([...ours].sort(), [...users].sort());
  });

  withStore('the last two connections closing at once report offline once', async (s, second) => {
    const other = await second();
    const u = newId();
    await s.touch(u, 'a', 60);
    await other.touch(u, 'b', 60);
    const [ra, rb] = await Promise.all([s.remove(u, 'a'), other.remove(u, 'b')]);
    assert.equal(Number(ra.becameOffline) + Number(rb.becameOffline), 1);
  });
}
