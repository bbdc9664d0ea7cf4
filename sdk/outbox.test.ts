import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryOutboxStorage, Outbox, newClientMsgId, type OutboxItem, type OutboxStorage } from './outbox.js';
import { ParleyError } from './rest.js';
import type { Message } from './types.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Waits until `pred` holds (polling), failing after a generous deadline: never a fixed wait. */
async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

function msg(item: OutboxItem, seq: number): Message {
  return {
    id: `m-${item.clientMsgId}`,
    conversationId: item.conversationId,
    seq,
    rev: 1,
    senderId: 'me',
    clientMsgId: item.clientMsgId,
    kind: 'user',
    text: item.text ?? null,
    attachments: [],
    mentions: [],
    reactions: {},
    createdAt: new Date().toISOString(),
  };
}

/** A fake server: stores by clientMsgId (idempotent), can fail on demand. */
function fakeServer() {
  const stored = new Map<string, Message>();
  const attempts: string[] = [];
  let online = false;
  let failNext: ParleyError[] = [];
  return {
    stored,
    attempts,
    setOnline(v: boolean) {
      online = v;
    },
    failWith(...errs: ParleyError[]) {
      failNext = errs;
    },
    canSend: () => online,
    async send(item: OutboxItem): Promise<Message> {
      attempts.push(item.clientMsgId);
      await tick(1);
      const err = failNext.shift();
      if (err) throw err;
      if (!online) throw new ParleyError(0, 'disconnected', 'offline');
      const m = stored.get(item.clientMsgId) ?? msg(item, stored.size + 1);
      stored.set(item.clientMsgId, m);
      return m;
    },
  };
}

describe('outbox', () => {
  test('clientMsgIds are unique', () => {
    const ids = new Set(Array.from({ length: 1000 }, newClientMsgId));
    assert.equal(ids.size, 1000);
  });

  test('waits while offline, then sends in order once each', async () => {
    const srv = fakeServer();
    const sent: string[] = [];
    const box = new Outbox({ send: (i) => srv.send(i), canSend: srv.canSend, onSent: (i) => sent.push(i.text ?? '') });
    const q = [];
    for (const text of ['a', 'b', 'c']) q.push(await box.enqueue('c1', { text }));
    await tick(20); // a negative check: nothing may be attempted while offline
    assert.equal(srv.attempts.length, 0);
    assert.equal(box.pending().length, 3);
    srv.setOnline(true);
    box.kick();
    const delivered = await Promise.all(q.map((x) => x.delivered));
    assert.deepEqual(delivered.map((m) => m.text), ['a', 'b', 'c']);
    assert.deepEqual(delivered.map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(sent, ['a', 'b', 'c']);
    assert.equal(box.pending().length, 0);
  });

  test('a send cut by a disconnection is re-sent with the same clientMsgId (exactly once on the server)', async () => {
    const srv = fakeServer();
    srv.setOnline(true);
    const box = new Outbox({ send: (i) => srv.send(i), canSend: srv.canSend });
    srv.failWith(new ParleyError(0, 'disconnected', 'lost the ack'));
    const { item, delivered } = await box.enqueue('c1', { text: 'x' });
    await until(() => srv.attempts.length === 1, 'the first attempt');
    await tick(1); // its failure handled
    assert.equal(box.pending().length, 1, 'kept until acked');
    box.kick(); // reconnected
    const m = await delivered;
    assert.deepEqual(srv.attempts, [item.clientMsgId, item.clientMsgId]);
    assert.equal(m.clientMsgId, item.clientMsgId);
    assert.equal(srv.stored.size, 1);
  });

  test('rate_limited: retried after retryAfter, order kept', async () => {
    const srv = fakeServer();
    srv.setOnline(true);
    const box = new Outbox({ send: (i) => srv.send(i), canSend: srv.canSend });
    srv.failWith(new ParleyError(0, 'rate_limited', 'slow down', 0.05));
    const t0 = Date.now();
    const a = await box.enqueue('c1', { text: 'a' });
    const b = await box.enqueue('c1', { text: 'b' });
    const [ma, mb] = await Promise.all([a.delivered, b.delivered]);
    assert.ok(Date.now() - t0 >= 45, 'waited for retryAfter');
    assert.deepEqual([ma.seq, mb.seq], [1, 2]);
    assert.deepEqual(srv.attempts, [a.item.clientMsgId, a.item.clientMsgId, b.item.clientMsgId]);
  });

  test('a non-retryable error drops the item and reports it; the next one goes on', async () => {
    const srv = fakeServer();
    srv.setOnline(true);
    const failed: string[] = [];
    const box = new Outbox({ send: (i) => srv.send(i), canSend: srv.canSend, onFailed: (i, e) => failed.push(`${i.text}:${e.code}`) });
    srv.failWith(new ParleyError(0, 'not_found', 'no such conversation'));
    const a = await box.enqueue('gone', { text: 'a' });
    const b = await box.enqueue('c1', { text: 'b' });
    await assert.rejects(a.delivered, (e: any) => e.code === 'not_found');
    assert.equal((await b.delivered).text, 'b');
    assert.deepEqual(failed, ['a:not_found']);
    assert.equal(box.pending().length, 0);
  });

  test('unavailable: retried with backoff', async () => {
    const srv = fakeServer();
    srv.setOnline(true);
    const box = new Outbox({ send: (i) => srv.send(i), canSend: srv.canSend, retryDelayMs: () => 10 });
    srv.failWith(new ParleyError(0, 'unavailable', 'db down'), new ParleyError(0, 'timeout', 'slow'));
    const a = await box.enqueue('c1', { text: 'a' });
    assert.equal((await a.delivered).text, 'a');
    assert.equal(srv.attempts.length, 3);
  });

  test('persists through storage: a new outbox (app restart) sends what the old one kept', async () => {
    const storage = new MemoryOutboxStorage();
    const srv = fakeServer();
    const first = new Outbox({ storage, send: (i) => srv.send(i), canSend: srv.canSend });
    await first.enqueue('c1', { text: 'a' });
    await first.enqueue('c1', { text: 'b', replyToId: 'r1', clientMsgId: 'my-own-id' });
    first.close();
    assert.deepEqual((await storage.load()).map((i) => i.text), ['a', 'b']);

    srv.setOnline(true);
    const sent: OutboxItem[] = [];
    const second = new Outbox({ storage, send: (i) => srv.send(i), canSend: srv.canSend, onSent: (i) => sent.push(i) });
    await second.ready();
    second.kick();
    await until(async () => sent.length === 2 && (await storage.load()).length === 0, 'both stored items sent and removed from storage');
    assert.deepEqual(sent.map((i) => i.text), ['a', 'b']);
    assert.equal(sent[1]!.clientMsgId, 'my-own-id');
    assert.equal(sent[1]!.replyToId, 'r1');
    assert.deepEqual(await storage.load(), []);
  });

  test('items queued before storage finished loading come after the stored ones', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const storage: OutboxStorage = {
      async load() {
        await gate;
        return [{ clientMsgId: 'old', conversationId: 'c1', text: 'old', createdAt: new Date(0).toISOString(), attempts: 0 }];
      },
      async save() {},
    };
    const srv = fakeServer();
    srv.setOnline(true);
    const box = new Outbox({ storage, send: (i) => srv.send(i), canSend: srv.canSend });
    const pending = box.enqueue('c1', { text: 'new' });
    release();
    const { delivered } = await pending;
    await delivered;
    assert.deepEqual(srv.attempts[0], 'old');
    assert.equal(srv.stored.get('old')!.seq, 1);
    assert.equal((await delivered).seq, 2);
  });
});
