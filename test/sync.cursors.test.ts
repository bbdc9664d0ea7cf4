// Clock-free sync cursors (src/modules/sync/sync.cursor.ts): positions in the change
// sequence (transaction ids), so a late commit is never skipped and nothing is resent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { SQL_BACKENDS, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { decodeCursor, encodeCursor } from '../src/modules/sync/sync.cursor.js';
import { visibleIn, type ChangeSnapshot } from '../src/platform/changes.js';
import { newId } from '../src/ids.js';
import { WsTestClient } from './support/ws-client.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const unb64 = (c: string) => JSON.parse(Buffer.from(c, 'base64url').toString()) as { v: number };

test('a snapshot with many transactions in progress is kept short without losing any of them', () => {
  const xmin = 2n ** 40n;
  const full: ChangeSnapshot = { xmin, xmax: xmin + 5000n, xip: Array.from({ length: 40 }, (_, i) => xmin + 7n + BigInt(i) * 100n) };
  const cursor = encodeCursor({ m: { from: { snapshot: full }, until: full, after: { change: xmin + 3n, id: newId() } }, e: { from: { snapshot: full } } });
  assert.ok(cursor.length < 2000);
  const back = decodeCursor(cursor);
  for (const kept of [back.m.from.snapshot!, back.m.until!, back.e.from.snapshot!]) {
    assert.ok(kept.xip.length <= 16);
    // Everything unseen in the full snapshot is unseen in the kept one (it may resend, never skip).
    for (let n = xmin - 2n; n < full.xmax + 2n; n += 1n) if (!visibleIn(n, full)) assert.equal(visibleIn(n, kept), false, String(n));
  }
});

for (const backend of SQL_BACKENDS) {
  describe(`sync cursors (${backend})`, () => {
    let s: TestServer;
    let alice: TestUser, bob: TestUser;
    let cid: string;
    const send = (text: string) => call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: alice.accessToken, body: { clientMsgId: `c-${Math.random().toString(36).slice(2)}`, text } });
    const sync = async (since?: string, limit?: number) => {
      const q = [since ? `since=${since}` : '', limit ? `limit=${limit}` : ''].filter(Boolean).join('&');
      const r = await call(s.url, 'GET', `/v1/sync${q ? `?${q}` : ''}`, { token: bob.accessToken });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { events: { type: string; message?: { id: string; text: string | null; rev: number } }[]; cursor: string; hasMore: boolean };
    };
    /** Every page from `cursor` to the end. */
    const drain = async (cursor: string, limit: number) => {
      const events: Awaited<ReturnType<typeof sync>>['events'] = [];
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 200, 'paging ends');
        const page = await sync(cursor, limit);
        events.push(...page.events);
        cursor = page.cursor;
        if (!page.hasMore) return { events, cursor };
      }
    };

    before(async () => {
      s = await startTestServer({ sql: backend });
      alice = await signup(s.url, 'alice');
      bob = await signup(s.url, 'bob');
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'cursors', memberIds: [bob.id] } });
      cid = g.body.id;
    });
    after(async () => s?.stop());

    test('cursors are v2; with nothing changed, consecutive syncs deliver nothing twice', async () => {
      const start = await sync();
      assert.equal(unb64(start.cursor).v, 2);
      const sent = await send('once');
      const first = await sync(start.cursor);
      assert.deepEqual(
        first.events.filter((e) => e.message).map((e) => [e.type, e.message!.id]),
        [['message.new', sent.body.id]],
      );
      let cursor = first.cursor;
      for (let i = 0; i < 3; i++) {
        const again = await sync(cursor);
        assert.deepEqual(again.events, [], `sync ${i + 2} after the change`);
        assert.equal(again.hasMore, false);
        cursor = again.cursor;
      }
      const edit = await call(s.url, 'PATCH', `/v1/conversations/${cid}/messages/${sent.body.id}`, { token: alice.accessToken, body: { text: 'edited' } });
      assert.equal(edit.status, 200);
      const edited = await sync(cursor);
      assert.deepEqual(edited.events.map((e) => [e.type, e.message?.text]), [['message.updated', 'edited']]);
      assert.deepEqual((await sync(edited.cursor)).events, []);
    });

    test('paging with small limits delivers each change exactly once, also changes written while paging', async () => {
      const start = (await sync()).cursor;
      const texts = Array.from({ length: 9 }, (_, i) => `page ${i}`);
      for (const t of texts) assert.equal((await send(t)).status, 201);
      await call(s.url, 'POST', `/v1/conversations/${cid}/read`, { token: bob.accessToken, body: { seq: 1 } });
      const first = await sync(start, 2);
      assert.equal(first.hasMore, true);
      const during = await send('during paging');
      const rest = await drain(first.cursor, 2);
      const events = [...first.events, ...rest.events];
      const got = events.filter((e) => e.type === 'message.new').map((e) => e.message!.text!);
      const later = await drain(rest.cursor, 2);
      got.push(...later.events.filter((e) => e.type === 'message.new').map((e) => e.message!.text!));
      assert.deepEqual([...got].sort(), [...texts, 'during paging'].sort(), 'every message exactly once');
      assert.ok(got.indexOf(during.body.text) >= 0);
      assert.equal(events.filter((e) => e.type === 'read').length, 1, 'the read event once');
      assert.deepEqual((await sync(later.cursor)).events, []);
    });

    test('an old v1 cursor is served once by time and answered with a v2 cursor', async () => {
      const sent = await send('for the old cursor');
      const at = Date.now() - 60_000;
      const v1 = b64({ v: 1, m: { at, id: '', c: false }, e: { at, id: '', c: false } });
      const { events, cursor } = await drain(v1, 500);
      assert.ok(events.some((e) => e.message?.id === sent.body.id), 'changes since its time');
      assert.equal(unb64(cursor).v, 2);
      assert.deepEqual((await sync(cursor)).events, [], 'from then on, exact');
    });

    test('WebSocket: ready, pong and resumed cursors are v2; resuming from a resumed cursor replays nothing twice', async () => {
      const resume = async (ws: WsTestClient, cursor: string) => {
        const from = ws.frames.length;
        const done = await ws.request({ type: 'resume', cursor });
        assert.equal(done.type, 'resumed', JSON.stringify(done));
        // What the resume replayed; live presence and typing frames are not part of it.
        return { cursor: done.cursor as string, events: ws.frames.slice(from).filter((f) => !['resumed', 'presence', 'typing'].includes(f.type)) };
      };
      const first = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      const ready = first.frames.find((f) => f.type === 'ready');
      first.close();
      assert.equal(unb64(ready.cursor).v, 2);
      const sent = await send('while away');
      const ws = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      try {
        const replay = await resume(ws, ready.cursor);
        assert.ok(replay.events.some((e) => e.type === 'message.new' && e.message.id === sent.body.id));
        assert.equal(unb64(replay.cursor).v, 2);
        assert.deepEqual((await resume(ws, replay.cursor)).events, []);
        ws.send({ type: 'ping', id: 'p1' });
        const pong = await ws.waitFor((f) => f.type === 'pong' && f.id === 'p1');
        assert.equal(unb64(pong.cursor).v, 2);
        const bad = await ws.request({ type: 'resume', cursor: b64({ v: 2, m: { s: '0:0:' }, e: { s: '1:0:' } }) });
        assert.deepEqual([bad.type, bad.code], ['error', 'invalid_request']);
      } finally {
        ws.close();
      }
    });

    test('forged v2 cursors are invalid_request', async () => {
      const ok = unb64((await sync()).cursor) as unknown as { v: 2; m: Record<string, unknown>; e: Record<string, unknown> };
      const id = (await send('keyset')).body.id as string;
      const forged: unknown[] = [
        { ...ok, m: { s: '0:0:' } }, // xmin 0
        { ...ok, m: { s: '5:1:3' } }, // in progress past xmax
        { ...ok, m: { s: '5:9:3,1' } }, // xip out of order
        { ...ok, m: { s: '5:9:1,1' } },
        { ...ok, m: { s: '5:-1:' } },
        { ...ok, m: { s: '99999999999999999999:0:' } }, // past xid8's signed range
        { ...ok, m: { s: '5:9' } },
        { ...ok, m: { s: `5:40:${Array.from({ length: 17 }, (_, i) => i).join(',')}` } }, // longer than a cursor keeps
        { ...ok, m: { s: 5 } },
        { ...ok, m: {} },
        { ...ok, m: { t: 1.5 } },
        { ...ok, m: { t: 1e20 } },
        { ...ok, m: { ...ok.m, a: ['7', id] } }, // a keyset without its snapshot
        { ...ok, m: { ...ok.m, u: ok.m.s, a: ['7', 'not-an-id'] } },
        { ...ok, m: { ...ok.m, u: ok.m.s, a: ['-7', id] } },
        { ...ok, m: { ...ok.m, u: ok.m.s, a: [7, id] } },
        { ...ok, e: { ...ok.e, u: ok.e.s, a: ['7', id] } }, // an event keyset names an event id
        { ...ok, e: { ...ok.e, u: ok.e.s, a: ['7', '9223372036854775808'] } },
        { ...ok, m: { ...ok.m, x: 1 } },
        { ...ok, v: 3 },
        { v: 2, m: ok.m },
        { v: 2, m: [], e: ok.e },
      ];
      for (const c of forged) {
        const r = await call(s.url, 'GET', `/v1/sync?since=${b64(c)}`, { token: bob.accessToken });
        assert.deepEqual([r.status, r.body.error?.code], [400, 'invalid_request'], JSON.stringify(c));
      }
      // A well-formed but made-up position is just a position: answered, never a 500.
      const madeUp = { v: 2, m: { s: '3:2:1', u: '3:2:1', a: ['4', id] }, e: { s: '1:0:', t: Date.now() } };
      assert.equal((await call(s.url, 'GET', `/v1/sync?since=${b64(madeUp)}`, { token: bob.accessToken })).status, 200);
    });

    test('a change whose transaction began before a sync and committed after it comes with the next sync', { skip: backend === 'postgres' ? false : 'needs concurrent connections (PGlite has one)' }, async () => {
      const { body: m } = await send('soon edited');
      const start = (await sync()).cursor;
      // Two raw connections, each holding a transaction open across a sync: a message edit
      // stamped a minute in the past (clocks play no part), and a conversation event.
      const [c1, c2] = [new pg.Client({ connectionString: s.databaseUrl }), new pg.Client({ connectionString: s.databaseUrl })];
      await Promise.all([c1.connect(), c2.connect()]);
      try {
        await c1.query('BEGIN');
        await c1.query(
          `UPDATE messages SET text = 'late edit', rev = rev + 1000, edited_at = now(), updated_at = clock_timestamp() - interval '1 minute', xid = pg_current_xact_id() WHERE id = $1`,
          [m.id],
        );
        await c2.query('BEGIN');
        await c2.query(`INSERT INTO conversation_events (conversation_id, user_id, type, payload) VALUES ($1, $2, 'read', $3)`, [cid, alice.id, JSON.stringify({ conversationId: cid, userId: alice.id, seq: 424242 })]);

        const during = await drain(start, 1);
        assert.ok(!during.events.some((e) => e.message?.text === 'late edit' || (e as { seq?: number }).seq === 424242), 'uncommitted: not visible yet');
        await c1.query('COMMIT');
        await c2.query('COMMIT');

        const next = await drain(during.cursor, 1);
        assert.deepEqual(next.events.filter((e) => e.message).map((e) => [e.type, e.message!.text]), [['message.updated', 'late edit']]);
        assert.equal(next.events.filter((e) => (e as { seq?: number }).seq === 424242).length, 1, 'the late event');
        assert.deepEqual((await sync(next.cursor)).events, [], 'and only once');
      } finally {
        await Promise.all([c1.end(), c2.end()]);
      }
    });
  });
}
