/**
 * Calls against the real server (p2p provider, the zero-setup default): start, ring, join,
 * relay of WebRTC signals only between participants, hang up, the ring timeout (missed +
 * system message), history, daily analytics, TURN credentials, bad input, and the
 * authorization matrix over every call route and the call.signal frame (non-member,
 * removed member, another conversation's call).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { WsTestClient, settle } from './support/ws-client.js';

const WAIT = 15_000;
const TURN_SECRET = 'turn-shared-secret-for-tests';

async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = WAIT): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('calls (p2p)', () => {
  let s: TestServer;
  let a: TestUser, b: TestUser, c: TestUser, r: TestUser;
  let direct: string;
  let group: string;
  const clients: WsTestClient[] = [];

  const api = (u: TestUser, method: string, path: string, body?: unknown) => call(s.url, method, path, { token: u.accessToken, ...(body !== undefined ? { body } : {}) });
  const connect = async (u: TestUser) => {
    const ws = await WsTestClient.connect(s.wsUrl, u.accessToken);
    clients.push(ws);
    return ws;
  };
  const messages = async (u: TestUser, conv: string) => (await api(u, 'GET', `/v1/conversations/${conv}/messages`)).body.messages as any[];

  before(async () => {
    s = await startTestServer({
      sql: 'pglite',
      env: { CALLS_RING_TIMEOUT: '2s', CALLS_TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp', CALLS_TURN_SECRET: TURN_SECRET, CALLS_STUN_URLS: 'stun:127.0.0.1:3478', CALLS_SIGNAL_MAX_BYTES: '2048', CALLS_OFFLINE_GRACE: '1s' },
    });
    [a, b, c, r] = await Promise.all([signup(s.url, 'ann'), signup(s.url, 'bob'), signup(s.url, 'cat'), signup(s.url, 'rex')]);
    direct = (await api(a, 'POST', '/v1/conversations', { type: 'direct', userId: b.id })).body.id;
    group = (await api(a, 'POST', '/v1/conversations', { type: 'group', title: 'crew', memberIds: [b.id, r.id] })).body.id;
  });

  after(async () => {
    for (const ws of clients) ws.close();
    await s?.stop();
  });

  test('a p2p call: ring, join, signals relayed between participants only, hang up ends it for both with a system message', async () => {
    const [wa, wb, wb2, wc] = [await connect(a), await connect(b), await connect(b), await connect(c)];
    const started = await api(a, 'POST', '/v1/calls', { conversationId: direct, kind: 'audio' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const callId = started.body.call.id;
    assert.equal(started.body.call.provider, 'p2p');
    assert.equal(started.body.call.status, 'ringing');
    assert.equal(started.body.credentials.provider, 'p2p');

    // TURN credentials in coturn's use-auth-secret form.
    const [stun, turn] = started.body.credentials.iceServers;
    assert.deepEqual(stun.urls, ['stun:127.0.0.1:3478']);
    const [expiry, user] = turn.username.split(':');
    assert.equal(user, a.id);
    const now = Date.now() / 1000;
    assert.ok(Number(expiry) > now + 6 * 3600 - 60 && Number(expiry) < now + 6 * 3600 + 60, `expiry ${expiry}`);
    assert.equal(turn.credential, createHmac('sha1', TURN_SECRET).update(turn.username).digest('base64'));

    // It rings in every tab of the callee, not for the caller, not for outsiders.
    for (const ws of [wb, wb2]) assert.equal((await ws.waitFor((f) => f.type === 'call.ringing' && f.call.id === callId)).call.kind, 'audio');
    await settle();
    assert.ok(!wa.frames.some((f) => f.type === 'call.ringing'));
    assert.ok(!wc.frames.some((f) => f.type.startsWith('call.')));

    // A second start in the same conversation joins the open call (200), never a second one.
    const again = await api(b, 'POST', '/v1/calls', { conversationId: direct, kind: 'video' });
    assert.equal(again.status, 200);
    assert.equal(again.body.call.id, callId);
    assert.equal(again.body.call.status, 'active');
    assert.ok(again.body.call.startedAt);
    await wa.waitFor((f) => f.type === 'call.updated' && f.call.status === 'active');

    // Signals: A -> B delivered with `from`; C (not a member) and to-non-participant refused, nothing delivered.
    wa.send({ type: 'call.signal', callId, to: b.id, data: { sdp: 'offer-sdp', type: 'offer' } });
    const got = await wb.waitFor((f) => f.type === 'call.signal');
    assert.deepEqual(got, { type: 'call.signal', callId, from: a.id, data: { sdp: 'offer-sdp', type: 'offer' } });
    const refusedC = await wc.request({ type: 'call.signal', callId, to: b.id, data: { x: 1 } });
    assert.equal(refusedC.code, 'not_found');
    const toOutsider = await wa.request({ type: 'call.signal', callId, to: c.id, data: { x: 2 } });
    assert.equal(toOutsider.code, 'not_found');
    const tooBig = await wa.request({ type: 'call.signal', callId, to: b.id, data: { sdp: 'x'.repeat(3000) } });
    assert.equal(tooBig.code, 'payload_too_large');
    const noData = await wa.request({ type: 'call.signal', callId, to: b.id });
    assert.equal(noData.code, 'invalid_request');
    await settle();
    assert.equal(wb.frames.filter((f) => f.type === 'call.signal').length, 1, 'only the one legitimate signal arrived');
    assert.ok(!wc.frames.some((f) => f.type === 'call.signal'));

    // Hang up: with one left, the call ends for both.
    const left = await api(b, 'POST', `/v1/calls/${callId}/leave`);
    assert.equal(left.status, 200);
    assert.equal(left.body.status, 'ended');
    assert.equal(left.body.endReason, 'completed');
    for (const ws of [wa, wb]) {
      const ended = await ws.waitFor((f) => f.type === 'call.ended' && f.call.id === callId);
      assert.equal(typeof ended.call.durationSeconds, 'number');
      assert.ok(ended.call.participants.every((p: any) => p.state === 'left'));
    }
    // Leaving or ending again is harmless (both hung up at once); joining is a conflict.
    assert.equal((await api(a, 'POST', `/v1/calls/${callId}/leave`)).status, 200);
    assert.equal((await api(a, 'POST', `/v1/calls/${callId}/end`)).status, 200);
    const late = await api(a, 'POST', `/v1/calls/${callId}/join`);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'conflict');
    const signalEnded = await wa.request({ type: 'call.signal', callId, to: b.id, data: {} });
    assert.equal(signalEnded.code, 'not_found');

    const sys = await until(async () => (await messages(a, direct)).find((m) => m.kind === 'system' && m.system?.action === 'call.ended'), 'the call system message');
    assert.match(sys.text, /^audio call, \d+ s$/);

    // History, and the day's analytics (the worker recomputes it from the records).
    const hist = await api(b, 'GET', `/v1/calls?conversationId=${direct}`);
    assert.equal(hist.status, 200);
    assert.equal(hist.body.calls[0].id, callId);
    const day = await until(async () => (await s.parley.services.calls.repo.daily(direct))[0], 'call_stats_daily row');
    assert.equal(day.calls, 1);
    assert.equal(day.missed, 0);
    assert.equal(day.participants, 2);
  });

  test('a ring nobody answers ends as missed, with "missed video call" in the conversation', async () => {
    const wb = await connect(b);
    const started = await api(a, 'POST', '/v1/calls', { conversationId: direct, kind: 'video' });
    assert.equal(started.status, 201);
    const ended = await wb.waitFor((f) => f.type === 'call.ended' && f.call.id === started.body.call.id, WAIT);
    assert.equal(ended.call.endReason, 'missed');
    assert.equal(ended.call.durationSeconds, 0);
    const sys = await until(async () => (await messages(b, direct)).find((m) => m.system?.action === 'call.missed'), 'missed call message');
    assert.equal(sys.text, 'missed video call');
    const day = await until(async () => {
      const d = (await s.parley.services.calls.repo.daily(direct))[0];
      return d && d.calls === 2 ? d : undefined;
    }, 'analytics with the missed call');
    assert.equal(day.missed, 1);
  });

  test('declining a direct call ends it as declined', async () => {
    const started = await api(a, 'POST', '/v1/calls', { conversationId: direct, kind: 'audio' });
    const declined = await api(b, 'POST', `/v1/calls/${started.body.call.id}/decline`);
    assert.equal(declined.status, 200);
    assert.equal(declined.body.status, 'ended');
    assert.equal(declined.body.endReason, 'declined');
  });

  test('a participant whose connections are all gone leaves after the grace; a quick reconnect keeps the call', async () => {
    const [e, f, g, h] = await Promise.all([signup(s.url, 'eve'), signup(s.url, 'fay'), signup(s.url, 'gus'), signup(s.url, 'hal')]);
    const ef = (await api(e, 'POST', '/v1/conversations', { type: 'direct', userId: f.id })).body.id;
    const gh = (await api(g, 'POST', '/v1/conversations', { type: 'direct', userId: h.id })).body.id;
    const [we, wf, wg, wh] = [await connect(e), await connect(f), await connect(g), await connect(h)];
    const c1 = (await api(e, 'POST', '/v1/calls', { conversationId: ef, kind: 'audio' })).body.call.id;
    await api(f, 'POST', `/v1/calls/${c1}/join`);
    const c2 = (await api(g, 'POST', '/v1/calls', { conversationId: gh, kind: 'audio' })).body.call.id;
    await api(h, 'POST', `/v1/calls/${c2}/join`);

    wf.close();
    wh.close();
    await connect(h); // back within the grace
    const ended = await we.waitFor((fr) => fr.type === 'call.ended' && fr.call.id === c1, WAIT);
    assert.equal(ended.call.endReason, 'completed');
    assert.equal(ended.call.participants.find((p: any) => p.userId === f.id).state, 'left');
    await settle(1500);
    assert.equal((await api(g, 'GET', `/v1/calls/${c2}`)).body.status, 'active');
    assert.ok(!wg.frames.some((fr) => fr.type === 'call.ended'));
    await api(g, 'POST', `/v1/calls/${c2}/end`);
  });

  test('the Calls section is in /openapi.json', async () => {
    const doc = (await call(s.url, 'GET', '/openapi.json')).body;
    for (const path of ['/v1/calls', '/v1/calls/{id}', '/v1/calls/{id}/join', '/v1/calls/{id}/decline', '/v1/calls/{id}/leave', '/v1/calls/{id}/end', '/v1/webhooks/getstream', '/v1/webhooks/aliyun-rtc']) {
      assert.ok(doc.paths[path], path);
    }
    assert.ok(doc.paths['/v1/calls'].post.responses['201']);
    assert.ok(doc.paths['/v1/calls'].get);
  });

  test('bad input: stable 4xx codes and nothing written', async () => {
    const count = async () => (await s.parley.platform.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM calls')).rows[0]!.n;
    const before = await count();
    const cases: [unknown, number][] = [
      [{ conversationId: direct, kind: 'screen' }, 400],
      [{ conversationId: direct }, 400],
      [{ kind: 'audio' }, 400],
      [{ conversationId: direct, kind: 'audio', extra: 1 }, 400],
      [{ conversationId: 'not an id!', kind: 'audio' }, 400],
      [{ conversationId: '0'.repeat(32), kind: 'audio' }, 404],
    ];
    for (const [body, status] of cases) {
      const res = await api(a, 'POST', '/v1/calls', body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.body.error.code, status === 400 ? 'invalid_request' : 'not_found');
    }
    const raw = await call(s.url, 'POST', '/v1/calls', { token: a.accessToken, rawBody: '{"conversationId":' });
    assert.equal(raw.status, 400);
    assert.equal((await call(s.url, 'POST', '/v1/calls', { body: { conversationId: direct, kind: 'audio' } })).status, 401);
    for (const path of ['/v1/calls/' + '0'.repeat(32), '/v1/calls/nope']) assert.equal((await api(a, 'GET', path)).body.error.code, 'not_found');
    assert.equal((await api(a, 'GET', '/v1/calls')).status, 400);
    assert.equal((await api(a, 'GET', `/v1/calls?conversationId=${direct}&cursor=garbage`)).body.error.code, 'invalid_request');
    assert.equal(await count(), before);
  });

  test('authorization matrix: non-member, removed member, another conversation’s call get not_found on every route and frame', async () => {
    const wr = await connect(r);
    const wa = await connect(a);
    const groupCall = await api(a, 'POST', '/v1/calls', { conversationId: group, kind: 'audio' });
    assert.equal(groupCall.status, 201);
    const gid = groupCall.body.call.id;
    await api(b, 'POST', `/v1/calls/${gid}/join`);
    await api(r, 'POST', `/v1/calls/${gid}/join`);
    // Rex is removed from the group while in the call.
    assert.equal((await api(a, 'DELETE', `/v1/conversations/${group}/members/${r.id}`)).status, 204);

    // Cat has a call of his own with Ann; Bob is not in that conversation.
    const catConv = (await api(c, 'POST', '/v1/conversations', { type: 'direct', userId: a.id })).body.id;
    const catCall = (await api(c, 'POST', '/v1/calls', { conversationId: catConv, kind: 'video' })).body.call.id;

    const snapshot = async () => (await s.parley.platform.sql.query('SELECT * FROM call_participants ORDER BY call_id, user_id')).rows;
    const rowsBefore = JSON.stringify(await snapshot());
    const routes = (id: string): [string, string][] => [
      ['GET', `/v1/calls/${id}`],
      ['POST', `/v1/calls/${id}/join`],
      ['POST', `/v1/calls/${id}/decline`],
      ['POST', `/v1/calls/${id}/leave`],
      ['POST', `/v1/calls/${id}/end`],
    ];
    const outsiders: [string, TestUser, string, string][] = [
      ['non-member', c, gid, group],
      ['removed member', r, gid, group],
      ['other conversation’s call', b, catCall, catConv],
    ];
    for (const [who, u, id, conv] of outsiders) {
      for (const [method, path] of routes(id)) {
        const res = await api(u, method, path);
        assert.equal(res.status, 404, `${who} ${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'not_found');
      }
      const hist = await api(u, 'GET', `/v1/calls?conversationId=${conv}`);
      assert.equal(hist.status, 404, `${who} history`);
      const start = await api(u, 'POST', '/v1/calls', { conversationId: conv, kind: 'audio' });
      assert.equal(start.status, 404, `${who} start`);
    }
    // The removed member's frame is refused and reaches nobody.
    const frame = await wr.request({ type: 'call.signal', callId: gid, to: a.id, data: { sdp: 'x' } });
    assert.equal(frame.code, 'not_found');
    // ...and signals to them are refused too, though the record still shows them joined.
    const toRemoved = await wa.request({ type: 'call.signal', callId: gid, to: r.id, data: { sdp: 'x' } });
    assert.equal(toRemoved.code, 'not_found');
    const wb = await connect(b);
    const frame2 = await wb.request({ type: 'call.signal', callId: catCall, to: c.id, data: { sdp: 'x' } });
    assert.equal(frame2.code, 'not_found');
    await settle();
    assert.ok(!wa.frames.some((f) => f.type === 'call.signal'));
    assert.ok(!wr.frames.some((f) => f.type === 'call.signal'));
    assert.equal(JSON.stringify(await snapshot()), rowsBefore, 'nothing written by refused requests');

    await api(c, 'POST', `/v1/calls/${catCall}/end`);
    await api(a, 'POST', `/v1/calls/${gid}/end`);
  });
});
