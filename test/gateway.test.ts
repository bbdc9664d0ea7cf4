/**
 * The WebSocket gateway's limits and shape, against the real server: one connection
 * flooding `resume` does bounded work and does not hold up anyone else; one per-user
 * budget for REST and every socket; ids checked at the edge (NUL → invalid_request);
 * connection caps per user and per session; one bus subscription per topic; presence
 * announced once per change to exactly the people who share a conversation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { WsTestClient, settle } from './support/ws-client.js';

const uid = () => Math.random().toString(36).slice(2);

async function login(s: TestServer, u: TestUser): Promise<string> {
  const r = await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: u.password } });
  assert.equal(r.status, 200);
  return r.body.accessToken as string;
}

async function until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('gateway: one connection must not slow everyone', () => {
  let s: TestServer;
  let alice: TestUser, bob: TestUser;
  let cid: string;
  before(async () => {
    s = await startTestServer({ env: { RATE_LIMIT_WS_SEND: '100000/1s', RATE_LIMIT_WS_RESUME: '5/60s' } });
    alice = await signup(s.url, 'alice');
    bob = await signup(s.url, 'bob');
    const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'big', memberIds: [bob.id] } });
    cid = g.body.id;
    for (let i = 0; i < 100; i++) {
      const r = await call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: alice.accessToken, body: { clientMsgId: `m${i}`, text: `m${i}` } });
      assert.equal(r.status, 201);
    }
  });
  after(async () => s?.stop());

  test('3,000 resume frames: one replay at a time, the rest refused; another client is still answered', async () => {
    const flooder = await WsTestClient.connect(s.wsUrl, bob.accessToken);
    const other = await WsTestClient.connect(s.wsUrl, alice.accessToken);
    try {
      const N = 3000;
      const before = flooder.frames.length;
      for (let i = 0; i < N; i++) flooder.send({ type: 'resume', id: `r${i}`, conversations: { [cid]: 0 } });
      // Meanwhile another client pings and the server answers HTTP.
      const pingAt = Date.now();
      other.send({ type: 'ping', id: 'other-ping' });
      await other.waitFor((f) => f.type === 'pong' && f.id === 'other-ping', 20_000);
      const pingMs = Date.now() - pingAt;
      assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);

      const answered = () => flooder.frames.slice(before).filter((f) => (f.type === 'resumed' || f.type === 'error') && typeof f.id === 'string' && f.id.startsWith('r'));
      await until(() => answered().length >= N, 'every resume answered');
      const replies = answered();
      const resumed = replies.filter((f) => f.type === 'resumed');
      const refused = replies.filter((f) => f.type === 'error' && f.code === 'rate_limited');
      const replayed = flooder.frames.slice(before).filter((f) => f.type === 'message.new');
      // Work done, not timing: at most the resume budget (5 a minute) ran, each replaying the
      // 101 messages (the group's `created` system message and the 100 sent).
      assert.ok(resumed.length >= 1 && resumed.length <= 5, `resumes run: ${resumed.length}`);
      assert.equal(refused.length, N - resumed.length, 'every other resume refused with rate_limited');
      assert.ok(refused.every((f) => f.retryAfter >= 1));
      assert.equal(replayed.length, resumed.length * 101, 'each replay sends the 101 messages once');
      assert.ok(pingMs < 15_000, `the other client's ping took ${pingMs} ms`);
    } finally {
      flooder.close();
      other.close();
    }
  });

  test('a replay is bounded per request: hasMore and a cursor to go on from', async () => {
    const t = await startTestServer({ env: { RATE_LIMIT_WS_SEND: '100000/1s', WS_RESUME_MAX_EVENTS: '100' } });
    try {
      const a = await signup(t.url, 'a');
      const b = await signup(t.url, 'b');
      const g = await call(t.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'g', memberIds: [b.id] } });
      const ws = await WsTestClient.connect(t.wsUrl, b.accessToken);
      const cursor = ws.frames[0].cursor as string;
      for (let i = 0; i < 250; i++) await call(t.url, 'POST', `/v1/conversations/${g.body.id}/messages`, { token: a.accessToken, body: { clientMsgId: `x${i}`, text: `x${i}` } });
      ws.close();
      const c = await WsTestClient.connect(t.wsUrl, b.accessToken);
      try {
        const texts = new Set<string>();
        let from = cursor;
        for (let round = 0; ; round++) {
          assert.ok(round < 10, 'the replay ends');
          const start = c.frames.length;
          const r = await c.request({ type: 'resume', cursor: from }, 20_000);
          assert.equal(r.type, 'resumed');
          const got = c.frames.slice(start).filter((f) => f.type === 'message.new');
          assert.ok(got.length <= 100, `one replay sent ${got.length}`);
          for (const f of got) texts.add(f.message.text);
          from = r.cursor;
          if (!r.hasMore) break;
        }
        for (let i = 0; i < 250; i++) assert.ok(texts.has(`x${i}`), `x${i} replayed`);
      } finally {
        c.close();
      }
    } finally {
      await t.stop();
    }
  });
});

describe('gateway: budgets, ids, caps, topics, presence', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ env: { RATE_LIMIT_WS_SEND: '6/60s', WS_MAX_CONNECTIONS_PER_USER: '3', WS_MAX_CONNECTIONS_PER_SESSION: '2' } });
  });
  after(async () => s?.stop());

  test('one send budget per user: two sockets and REST share it', async () => {
    const a = await signup(s.url, 'budget');
    const b = await signup(s.url, 'peer');
    const d = await call(s.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'direct', userId: b.id } });
    const w1 = await WsTestClient.connect(s.wsUrl, a.accessToken);
    const w2 = await WsTestClient.connect(s.wsUrl, await login(s, a));
    try {
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? w1 : w2).request({ type: 'message.send', conversationId: d.body.id, clientMsgId: `b-${i}`, text: `b${i}` })),
      );
      assert.equal(replies.filter((r) => r.type === 'ack').length, 6, 'six a minute for the user, not per socket');
      assert.ok(replies.filter((r) => r.type === 'error').every((r) => r.code === 'rate_limited'));
      const rest = await call(s.url, 'POST', `/v1/conversations/${d.body.id}/messages`, { token: a.accessToken, body: { clientMsgId: 'rest-1', text: 'rest' } });
      assert.equal(rest.status, 429, 'REST spends the same budget');
    } finally {
      w1.close();
      w2.close();
    }
  });

  test('malformed or NUL ids in typing, read, message.send and resume keys: invalid_request, never internal', async () => {
    const a = await signup(s.url, 'ids');
    const b = await signup(s.url, 'ids2');
    const d = await call(s.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'direct', userId: b.id } });
    const ws = await WsTestClient.connect(s.wsUrl, a.accessToken);
    try {
      const nul = `${d.body.id.slice(0, 31)}\u0000`;
      const frames = [
        { type: 'typing', conversationId: nul },
        { type: 'typing', conversationId: 'not-an-id' },
        { type: 'read', conversationId: nul, seq: 1 },
        { type: 'message.send', conversationId: nul, clientMsgId: uid(), text: 'x' },
        { type: 'message.send', conversationId: d.body.id, clientMsgId: uid(), text: 'x', replyToId: '\u0000' },
        { type: 'message.send', conversationId: d.body.id, clientMsgId: uid(), text: 'x', attachments: ['a\u0000'] },
        { type: 'resume', conversations: { [nul]: 0 } },
        { type: 'resume', conversations: { 'x\u0000y': 0 } },
        { type: 'resume', cursor: 'abc\u0000' },
        { type: 'call.signal', callId: 'c\u0000', to: b.id, data: {} },
      ];
      for (const f of frames) {
        const r = await ws.request(f);
        assert.equal(r.type, 'error', JSON.stringify(f));
        assert.equal(r.code, 'invalid_request', JSON.stringify(f));
      }
      // Text is counted in characters (code points), as on REST: 4000 emoji pass, 4001 do not.
      const ok = await ws.request({ type: 'message.send', conversationId: d.body.id, clientMsgId: uid(), text: '🙂'.repeat(4000) });
      assert.equal(ok.type, 'ack');
      const long = await ws.request({ type: 'message.send', conversationId: d.body.id, clientMsgId: uid(), text: '🙂'.repeat(4001) });
      assert.equal(long.code, 'invalid_request');
    } finally {
      ws.close();
    }
  });

  test('connections per session and per user are capped', async () => {
    const u = await signup(s.url, 'caps');
    const c1 = await WsTestClient.connect(s.wsUrl, u.accessToken);
    const c2 = await WsTestClient.connect(s.wsUrl, u.accessToken);
    const c3 = await WsTestClient.connect(s.wsUrl, u.accessToken);
    const other = await WsTestClient.connect(s.wsUrl, await login(s, u));
    try {
      assert.equal(await c1.waitClosed(), 1008, 'a third connection of one session replaces the oldest');
      assert.equal(c2.closeCode, null);
      await assert.rejects(WsTestClient.connect(s.wsUrl, await login(s, u)), /429/, 'a fourth connection of the user is refused');
      c3.send({ type: 'ping', id: 'c3' });
      assert.ok(await c3.waitFor((f) => f.type === 'pong' && f.id === 'c3'), 'the newer ones keep serving');
    } finally {
      for (const c of [c1, c2, c3, other]) c.close();
    }
  });

  test('the hub holds one bus subscription per topic, whatever the number of sockets', async () => {
    const bus = s.parley.platform.bus as unknown as { activeTopics(): string[] };
    const u = await signup(s.url, 'topics');
    const p = await signup(s.url, 'topics2');
    const d = await call(s.url, 'POST', '/v1/conversations', { token: u.accessToken, body: { type: 'direct', userId: p.id } });
    const mine = () => bus.activeTopics().filter((t) => t === `user:${u.id}` || t === `conv:${d.body.id}`);
    const a = await WsTestClient.connect(s.wsUrl, u.accessToken);
    const b = await WsTestClient.connect(s.wsUrl, await login(s, u));
    assert.deepEqual(mine().sort(), [`conv:${d.body.id}`, `user:${u.id}`]);
    a.close();
    await a.waitClosed();
    await settle(100);
    assert.equal(mine().length, 2, 'still heard by the other socket');
    b.close();
    await b.waitClosed();
    await until(() => mine().length === 0, 'topics dropped with the last socket', 5000);
  });

  test('presence: once per change to each contact (even sharing two conversations), never to strangers; a second device is not news', async () => {
    const alice = await signup(s.url, 'pa');
    const carol = await signup(s.url, 'pc');
    const stranger = await signup(s.url, 'ps');
    await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: carol.id } });
    await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'two', memberIds: [carol.id] } });
    const wc = await WsTestClient.connect(s.wsUrl, carol.accessToken);
    const ws = await WsTestClient.connect(s.wsUrl, stranger.accessToken);
    const of = (c: WsTestClient, status: string) => c.frames.filter((f) => f.type === 'presence' && f.userId === alice.id && f.status === status);
    try {
      const a1 = await WsTestClient.connect(s.wsUrl, alice.accessToken);
      await wc.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'online');
      const a2 = await WsTestClient.connect(s.wsUrl, await login(s, alice));
      await settle(500);
      assert.equal(of(wc, 'online').length, 1, 'one online frame, not one per shared conversation or device');
      a1.close();
      a2.close();
      await wc.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline');
      await settle(500);
      assert.equal(of(wc, 'offline').length, 1);
      assert.equal(of(ws, 'online').length + of(ws, 'offline').length, 0, 'strangers never see it');
    } finally {
      wc.close();
      ws.close();
    }
  });
});
