/**
 * The GetStream and Aliyun ARTC adapters against the real server (PostgreSQL backend):
 * GetStream through a loopback stand-in of its API that checks the server JWT, api_key,
 * stream-auth-type and the bodies; user tokens decoded and checked; webhooks signed as
 * GetStream signs them (also gzip), forged, replayed and out of order; ARTC credentials
 * recomputed; ARTC CreateEventSubscribe callbacks with the deployment secret.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { jwtVerify } from 'jose';
import { Redis } from 'ioredis';
import { call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { WsTestClient } from './support/ws-client.js';
import { GetStreamStandin } from './support/getstream-standin.js';

const API_KEY = 'gs_test_key';
const API_SECRET = 'gs-test-secret-0123456789abcdef';
const ALI_SECRET = 'ali-callback-secret';
const WAIT = 15_000;
const REDIS_PREFIX = `parley-calls-test-${process.pid}-${Date.now()}:`;

async function until<T>(check: () => Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('calls through GetStream (audio) and Aliyun ARTC (video)', () => {
  let s: TestServer;
  let gs: GetStreamStandin;
  let a: TestUser, b: TestUser;
  let conv: string;
  const clients: WsTestClient[] = [];
  const api = (u: TestUser, method: string, path: string, body?: unknown) => call(s.url, method, path, { token: u.accessToken, ...(body !== undefined ? { body } : {}) });
  const sign = (body: Buffer | string) => createHmac('sha256', API_SECRET).update(body).digest('hex');
  const hook = (body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${s.url}/v1/webhooks/getstream`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const callRow = async (id: string) => (await s.parley.platform.sql.query<any>('SELECT status, end_reason, stats FROM calls WHERE id = $1', [id])).rows[0];

  before(async () => {
    gs = await new GetStreamStandin(API_KEY, API_SECRET).start();
    s = await startTestServer({
      sql: 'postgres',
      env: {
        CALLS_AUDIO_PROVIDER: 'getstream',
        CALLS_VIDEO_PROVIDER: 'aliyun',
        GETSTREAM_API_KEY: API_KEY,
        GETSTREAM_API_SECRET: API_SECRET,
        GETSTREAM_BASE_URL: gs.url,
        GETSTREAM_TOKEN_TTL: '20m',
        ALIYUN_RTC_APP_ID: 'testapp',
        ALIYUN_RTC_APP_KEY: 'testappkey',
        ALIYUN_RTC_CALLBACK_SECRET: ALI_SECRET,
        CALLS_RING_TIMEOUT: '1h',
        CALLS_STATE_TTL: '2h',
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: REDIS_PREFIX,
      },
    });
    [a, b] = await Promise.all([signup(s.url, 'ann'), signup(s.url, 'bob')]);
    conv = (await api(a, 'POST', '/v1/conversations', { type: 'direct', userId: b.id })).body.id;
  });

  after(async () => {
    for (const c of clients) c.close();
    await s?.stop();
    await gs?.stop();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${REDIS_PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  test('call state is cached in Redis with CALLS_STATE_TTL, and follows every change', async () => {
    const started = await api(a, 'POST', '/v1/calls', { conversationId: conv, kind: 'video' });
    const id = started.body.call.id;
    const redis = new Redis('redis://127.0.0.1:6379');
    try {
      const ttl = await redis.ttl(`${REDIS_PREFIX}call:${id}`);
      assert.ok(ttl > 7000 && ttl <= 7200, `ttl ${ttl}`);
      assert.equal(JSON.parse((await redis.get(`${REDIS_PREFIX}call:${id}`))!).status, 'ringing');
      await api(a, 'POST', `/v1/calls/${id}/end`);
      assert.equal(JSON.parse((await redis.get(`${REDIS_PREFIX}call:${id}`))!).status, 'ended');
    } finally {
      await redis.quit();
    }
  });

  test('GetStream: call created with members, users upserted, user tokens valid for that call, mark_ended on end', async () => {
    const wb = await WsTestClient.connect(s.wsUrl, b.accessToken);
    clients.push(wb);
    const started = await api(a, 'POST', '/v1/calls', { conversationId: conv, kind: 'audio' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const { call: c, credentials: cred } = started.body;
    assert.equal(c.provider, 'getstream');
    assert.deepEqual(
      gs.requests.filter((r) => r.refused).map((r) => r.refused),
      [],
      'the stand-in refused nothing',
    );
    assert.deepEqual([...gs.users.keys()].sort(), [a.id, b.id].sort());
    const created = gs.calls.get(`default:${c.id}`);
    assert.ok(created, 'call created on GetStream');
    assert.equal(created.created_by_id, a.id);
    assert.deepEqual(created.members.sort(), [a.id, b.id].sort());
    const req = gs.accepted(/\/api\/v2\/video\/call\//)[0]!;
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-stream-client'], 'parley');

    assert.deepEqual(Object.keys(cred).sort(), ['apiKey', 'baseUrl', 'callId', 'callType', 'provider', 'token', 'userId']);
    assert.equal(cred.apiKey, API_KEY);
    assert.equal(cred.callType, 'default');
    assert.equal(cred.callId, c.id);
    assert.equal(cred.userId, a.id);
    const { payload } = await jwtVerify(cred.token, new TextEncoder().encode(API_SECRET), { algorithms: ['HS256'] });
    assert.equal(payload.user_id, a.id);
    assert.deepEqual(payload.call_cids, [`default:${c.id}`]);
    assert.equal(payload.exp! - payload.iat!, 20 * 60);
    assert.ok(Math.abs(payload.iat! - (Date.now() / 1000 - 1)) < 30);

    await wb.waitFor((f) => f.type === 'call.ringing' && f.call.id === c.id);
    const joined = await api(b, 'POST', `/v1/calls/${c.id}/join`);
    assert.equal(joined.status, 200);
    const bClaims = (await jwtVerify(joined.body.credentials.token, new TextEncoder().encode(API_SECRET))).payload;
    assert.equal(bClaims.user_id, b.id);

    const ended = await api(a, 'POST', `/v1/calls/${c.id}/end`);
    assert.equal(ended.body.status, 'ended');
    await until(async () => gs.calls.get(`default:${c.id}`)?.ended, 'mark_ended at GetStream');
  });

  test('GetStream down: the start fails with 503 and nothing is written', async () => {
    const other = await signup(s.url, 'cy');
    const conv2 = (await api(a, 'POST', '/v1/conversations', { type: 'direct', userId: other.id })).body.id;
    await gs.stop();
    try {
      const res = await api(a, 'POST', '/v1/calls', { conversationId: conv2, kind: 'audio' });
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, 'unavailable');
      const n = (await s.parley.platform.sql.query<any>('SELECT count(*)::int AS n FROM calls WHERE conversation_id = $1', [conv2])).rows[0].n;
      assert.equal(n, 0);
    } finally {
      // Back on the same port, so the server's configured base URL still points at it.
      const port = Number(new URL(gs.url).port);
      await new Promise<void>((resolve) => (gs as any).server.listen(port, '127.0.0.1', resolve));
    }
  });

  test('GetStream webhooks: signature checked (401, no change), gzip, idempotent by X-Webhook-Id, reordered events, stats stored, session end closes the call', async () => {
    const started = await api(a, 'POST', '/v1/calls', { conversationId: conv, kind: 'audio' });
    const id = started.body.call.id;
    const cid = `default:${id}`;
    await api(b, 'POST', `/v1/calls/${id}/join`);

    const ended = JSON.stringify({ type: 'call.session_ended', call_cid: cid, session_id: 's1', created_at: new Date().toISOString() });
    // Forged: wrong signature, missing signature, signed with another secret, wrong api key.
    const forged: Record<string, string>[] = [
      { 'x-signature': '0'.repeat(64), 'x-webhook-id': 'w-forged-1' },
      { 'x-webhook-id': 'w-forged-2' },
      { 'x-signature': createHmac('sha256', 'nope').update(ended).digest('hex'), 'x-webhook-id': 'w-forged-3' },
      { 'x-signature': sign(ended), 'x-webhook-id': 'w-forged-4', 'x-api-key': 'someone-else' },
    ];
    for (const headers of forged) {
      const res = await hook(ended, headers);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as any).error.code, 'unauthorized');
    }
    assert.equal((await callRow(id)).status, 'active', 'forged events changed nothing');
    const forgedRows = await s.parley.platform.sql.query<any>("SELECT count(*)::int AS n FROM call_webhook_events WHERE event_id LIKE 'w-forged-%'");
    assert.equal(forgedRows.rows[0].n, 0);

    // Bad bodies: not JSON (signed), too large.
    const notJson = 'not json';
    assert.equal((await hook(notJson, { 'x-signature': sign(notJson), 'x-webhook-id': 'w-bad' })).status, 400);
    const huge = JSON.stringify({ type: 'call.ended', call_cid: cid, pad: 'x'.repeat(300 * 1024) });
    assert.equal((await hook(huge, { 'x-signature': sign(huge), 'x-webhook-id': 'w-huge' })).status, 413);
    const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024, 0x20));
    assert.equal((await hook(bomb, { 'x-signature': sign(Buffer.alloc(2 * 1024 * 1024, 0x20)), 'x-webhook-id': 'w-bomb', 'content-encoding': 'gzip' })).status, 413);

    // A participant_left that arrives before its joined (reordered): the later join is ignored.
    const t0 = Date.now();
    const left = JSON.stringify({ type: 'call.session_participant_left', call_cid: cid, session_id: 's1', participant: { user: { id: b.id }, user_session_id: 'x' }, duration_seconds: 42, created_at: new Date(t0 + 2000).toISOString() });
    const res1 = await hook(left, { 'x-signature': sign(left), 'x-webhook-id': 'w-left' });
    assert.equal(res1.status, 200);
    assert.deepEqual(await res1.json(), { ok: true, results: ['applied'] });
    const afterLeft = (await api(a, 'GET', `/v1/calls/${id}`)).body;
    assert.equal(afterLeft.status, 'ended', 'one left in the call: it ended');
    assert.equal(afterLeft.participants.find((p: any) => p.userId === b.id).seconds >= 42, true);
    const lateJoin = JSON.stringify({ type: 'call.session_participant_joined', call_cid: cid, participant: { user: { id: b.id } }, created_at: new Date(t0).toISOString() });
    assert.equal((await hook(lateJoin, { 'x-signature': sign(lateJoin), 'x-webhook-id': 'w-join' })).status, 200);
    assert.equal((await api(a, 'GET', `/v1/calls/${id}`)).body.participants.find((p: any) => p.userId === b.id).state, 'left');

    // Replay of the same delivery id: acknowledged, nothing applied again.
    const replay = await hook(left, { 'x-signature': sign(left), 'x-webhook-id': 'w-left', 'x-webhook-attempt': '2' });
    assert.deepEqual(await replay.json(), { ok: true, results: ['duplicate'] });

    // Stats report, gzip-compressed, signed over the uncompressed bytes.
    const stats = JSON.stringify({ type: 'call.stats_report_ready', call_cid: cid, session_id: 's1', counts: { participants: 2, sessions: 1, peak_concurrent_users: 2 }, created_at: new Date().toISOString() });
    const gz = await hook(gzipSync(stats), { 'x-signature': sign(stats), 'x-webhook-id': 'w-stats', 'content-encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.deepEqual((await callRow(id)).stats.counts, { participants: 2, sessions: 1, peak_concurrent_users: 2 });
    // A gzip body signed over its compressed bytes is not GetStream's scheme: refused.
    const wrongGz = gzipSync(stats);
    assert.equal((await hook(wrongGz, { 'x-signature': sign(wrongGz), 'x-webhook-id': 'w-stats-2' })).status, 401);

    // session_ended / call.ended for a call already ended: acknowledged, no change.
    const endRes = await hook(ended, { 'x-signature': sign(ended), 'x-webhook-id': 'w-ended' });
    assert.equal(endRes.status, 200);
    assert.equal((await callRow(id)).end_reason, 'completed');
    // Unknown call: acknowledged (GetStream would retry otherwise), nothing created.
    const stray = JSON.stringify({ type: 'call.ended', call_cid: 'default:' + 'f'.repeat(32) });
    assert.deepEqual(await (await hook(stray, { 'x-signature': sign(stray), 'x-webhook-id': 'w-stray' })).json(), { ok: true, results: ['unknown_call'] });
  });

  test('GetStream webhook: call.session_ended ends an active call and queues analytics', async () => {
    const started = await api(a, 'POST', '/v1/calls', { conversationId: conv, kind: 'audio' });
    const id = started.body.call.id;
    await api(b, 'POST', `/v1/calls/${id}/join`);
    const body = JSON.stringify({ type: 'call.session_ended', call_cid: `default:${id}`, session_id: 's2', created_at: new Date().toISOString() });
    assert.equal((await hook(body, { 'x-signature': sign(body), 'x-webhook-id': 'w-end-2' })).status, 200);
    assert.equal((await callRow(id)).status, 'ended');
    const day = await until(async () => {
      const d = (await s.parley.services.calls.repo.daily(conv))[0];
      return d && d.calls >= 3 ? d : undefined;
    }, 'analytics row');
    assert.equal(day.participants, 2);
  });

  test('Aliyun ARTC: credentials recomputable from the documented algorithm; callbacks need the secret; Join/Leave/Close, duplicates and reordering', async () => {
    const started = await api(a, 'POST', '/v1/calls', { conversationId: conv, kind: 'video' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const { call: c, credentials: cred } = started.body;
    assert.equal(c.provider, 'aliyun');
    assert.equal(cred.appId, 'testapp');
    assert.equal(cred.channelId, c.id);
    assert.equal(cred.userId, a.id);
    assert.equal(cred.nonce, '');
    assert.ok(cred.timestamp > Date.now() / 1000 + 23 * 3600);
    assert.equal(cred.token, createHash('sha256').update('testapp' + 'testappkey' + c.id + a.id + '' + cred.timestamp).digest('hex'));
    assert.deepEqual(cred.gslb, ['https://rgslb.rtc.aliyuncs.com']);

    const post = (body: unknown, query = `?token=${ALI_SECRET}`, headers: Record<string, string> = {}) =>
      fetch(`${s.url}/v1/webhooks/aliyun-rtc${query}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const now = Math.floor(Date.now() / 1000);
    const join = { MsgId: 'm1', MsgTimestamp: now, AppId: 'testapp', ChannelID: c.id, Contents: [{ Event: 'UserEvent', UserEvent: { UserId: b.id, SessionId: 's', EventTag: 'Join', Timestamp: now + 1 } }] };
    for (const [q, h] of [['', {}], ['?token=wrong', {}], ['', { authorization: 'Bearer wrong' }]] as const) {
      const res = await post(join, q, h);
      assert.equal(res.status, 401);
    }
    assert.equal((await callRow(c.id)).status, 'ringing', 'unauthenticated callbacks changed nothing');
    assert.equal((await post({ MsgId: 'm0', Contents: 'nope' })).status, 400);
    assert.equal((await post({ MsgId: 'm0', ChannelID: 'bad channel!', Contents: [] })).status, 400);

    assert.equal((await post(join, '', { authorization: `Bearer ${ALI_SECRET}` })).status, 200);
    assert.equal((await callRow(c.id)).status, 'active');
    // Duplicate delivery of the same MsgId: no change.
    assert.deepEqual(await (await post(join)).json(), { ok: true, results: ['duplicate'] });
    // Close before the Leave (reordered): the channel closing ends the call; the Leave after it changes nothing.
    const close = { MsgId: 'm3', ChannelID: c.id, Contents: [{ Event: 'ChannelEvent', ChannelEvent: { EventTag: 'Close', Timestamp: now + 30 } }] };
    assert.deepEqual(await (await post(close)).json(), { ok: true, results: ['applied'] });
    const leave = { MsgId: 'm2', ChannelID: c.id, Contents: [{ Event: 'UserEvent', UserEvent: { UserId: b.id, EventTag: 'Leave', Timestamp: now + 20 } }] };
    assert.equal((await post(leave)).status, 200);
    const final = (await api(a, 'GET', `/v1/calls/${c.id}`)).body;
    assert.equal(final.status, 'ended');
    assert.equal(final.endReason, 'completed');
  });
});
