/**
 * Notifications end to end on the real server, against loopback stand-ins of FCM, APNs and
 * Web Push that check what the providers check, and a real SMTP server: who gets a push
 * (offline yes, online and active no, level none no, mentions at level `mentions`), what it
 * carries, dead tokens removed, background pushes, the batched missed-messages email with
 * one-click unsubscribe, password reset, email verification, and mentions across conversations.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/platform/jobs/jobs.contract.js';
import { SQL_BACKENDS, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { ApnsStandIn, FcmStandIn, WebPushStandIn, type TestSubscription } from './support/push-standins.js';
import { TestSmtpServer } from './support/smtp-server.js';
import { createTestCa, type TestCa } from './support/test-ca.js';
import { createLogger } from '../src/logger.js';
import { WsTestClient } from './support/ws-client.js';

const JOB_KINDS = ['notify.push', 'notify.email', 'notify.background', 'mentions.detect'];
const AMQP_TEST_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
const execFileP = promisify(execFile);

/** A fresh RabbitMQ vhost for the full-stack run (rabbitmqctl must work: the full stack is not optional here). */
async function freshVhost(): Promise<{ url: string; drop(): Promise<void> }> {
  const vhost = `parley_notify_${randomBytes(4).toString('hex')}`;
  const ctl = (...args: string[]) => execFileP('rabbitmqctl', ['--quiet', ...args], { timeout: 30_000, killSignal: 'SIGKILL' });
  await ctl('add_vhost', vhost);
  await ctl('set_permissions', '-p', vhost, new URL(AMQP_TEST_URL).username || 'guest', '.*', '.*', '.*');
  const u = new URL(AMQP_TEST_URL);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return { url: u.toString(), drop: () => ctl('delete_vhost', vhost).then(() => undefined, () => undefined) };
}

/** The embedded profile on each SQL backend, and the full stack (PostgreSQL, Redis, RabbitMQ). */
const PROFILES = [
  ...SQL_BACKENDS.map((sql) => ({ name: `embedded, ${sql}`, sql, full: false })),
  ...(SQL_BACKENDS.includes('postgres') ? [{ name: 'full stack: PostgreSQL, Redis, RabbitMQ', sql: 'postgres' as const, full: true }] : []),
];

for (const { name: profile, sql, full } of PROFILES) {
  describe(`notifications (${profile})`, () => {
    let ca: TestCa;
    let fcm: FcmStandIn;
    let apns: ApnsStandIn;
    let webpush: WebPushStandIn;
    let smtp: TestSmtpServer;
    let server: TestServer;
    let keysDir: string;
    let vhost: { url: string; drop(): Promise<void> } | undefined;
    /** How many times the server logged each job id as done (`job done`, at debug level). */
    const jobsLoggedDone = new Map<string, number>();
    // Only the lines of a job's end are parsed; the rest of the debug output is dropped.
    const logger = createLogger('debug', {}, {
      write(line: string) {
        if (!line.includes('"msg":"job done"')) return;
        const { jobId } = JSON.parse(line) as { jobId: string };
        jobsLoggedDone.set(jobId, (jobsLoggedDone.get(jobId) ?? 0) + 1);
      },
    });

    before(async () => {
      const stack: Record<string, string> = {};
      if (full) {
        vhost = await freshVhost();
        Object.assign(stack, { AMQP_URL: vhost.url, AMQP_QUEUE_TYPE: 'classic', REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: `notify-test:${randomBytes(4).toString('hex')}:` });
      }
      ca = createTestCa();
      [fcm, apns, webpush, smtp] = await Promise.all([FcmStandIn.start(), ApnsStandIn.start(ca), WebPushStandIn.start(ca), TestSmtpServer.start()]);
      keysDir = mkdtempSync(join(tmpdir(), 'parley-keys-'));
      server = await startTestServer({
        sql,
        logger,
        env: {
          FCM_SERVICE_ACCOUNT_FILE: fcm.writeServiceAccount(keysDir),
          FCM_BASE_URL: fcm.baseUrl,
          APNS_KEY_FILE: apns.writeKey(keysDir),
          APNS_KEY_ID: apns.keyId,
          APNS_TEAM_ID: apns.teamId,
          APNS_TOPIC: apns.topic,
          APNS_URL: apns.url,
          APNS_CA_FILE: ca.caFile,
          WEB_PUSH_GENERATE_KEYS: 'true',
          WEB_PUSH_SUBJECT: 'mailto:ops@parley.test',
          WEB_PUSH_CA_FILE: ca.caFile,
          SMTP_URL: smtp.url,
          MAIL_FROM: 'Parley <no-reply@parley.test>',
          EMAIL_DIGEST_SCAN_INTERVAL: '100ms',
          JOB_RETRY_DELAY: '100ms',
          PUSH_RETRY_MAX_DELAY: '2s',
          ...stack,
        },
      });
    });

    after(async () => {
      await server?.stop();
      await Promise.all([fcm?.close(), apns?.close(), webpush?.close(), smtp?.close()]);
      ca?.remove();
      await vhost?.drop();
      if (keysDir) rmSync(keysDir, { recursive: true, force: true });
    });

    /** A user with one device on each platform. */
    async function withDevices(name: string): Promise<{ user: TestUser; fcmToken: string; apnsToken: string; sub: TestSubscription }> {
      const user = await signup(server.url, name);
      const fcmToken = `fcm-${randomBytes(16).toString('hex')}`;
      const apnsToken = randomBytes(32).toString('hex');
      const sub = webpush.subscribe();
      for (const body of [
        { platform: 'fcm', token: fcmToken },
        { platform: 'apns', token: apnsToken },
        { platform: 'webpush', subscription: { endpoint: sub.endpoint, keys: sub.keys } },
      ]) {
        const r = await call(server.url, 'POST', '/v1/me/devices', { token: user.accessToken, body });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      return { user, fcmToken, apnsToken, sub };
    }

    async function direct(a: TestUser, b: TestUser): Promise<string> {
      const r = await call(server.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'direct', userId: b.id } });
      assert.ok(r.status === 201 || r.status === 200);
      return r.body.id;
    }

    async function send(from: TestUser, conversationId: string, text: string): Promise<{ id: string; seq: number }> {
      const r = await call(server.url, 'POST', `/v1/conversations/${conversationId}/messages`, { token: from.accessToken, body: { clientMsgId: randomBytes(8).toString('hex'), text } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body;
    }

    /**
     * Waits until every job of the message (as its outbox row names them) completed, as the
     * server logs it. Not their processed_jobs rows: a job that had nothing to do leaves none.
     */
    async function jobsDone(messageId: string, times = 1): Promise<void> {
      const row = await server.parley.platform.sql.query<{ jobs: string[] }>(`SELECT payload->'jobs' AS jobs FROM outbox WHERE id = $1`, [`message.sent:${messageId}`]);
      const kinds = row.rows[0]?.jobs ?? [];
      assert.ok(JOB_KINDS.slice(0, 3).every((k) => kinds.includes(k)), `the message's outbox row names its notification jobs (${JSON.stringify(kinds)})`);
      const ids = kinds.map((k) => `${k}:${messageId}`);
      await waitFor(`jobs of ${messageId} done`, () => ids.every((id) => (jobsLoggedDone.get(id) ?? 0) >= times), 30_000);
    }

    const fcmFor = (token: string) => fcm.received.filter((m) => m.token === token);
    const apnsFor = (token: string) => apns.received.filter((m) => m.token === token);
    const webFor = (sub: TestSubscription) => webpush.received.filter((m) => m.endpoint === sub.endpoint);

    test('B offline: A sends, and each of B\'s FCM, APNs and Web Push devices gets exactly one push with the right fields', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const conv = await direct(a, b.user);
      const m = await send(a, conv, 'Hello Bob, are you there?');
      await jobsDone(m.id);
      await waitFor('three pushes', () => fcmFor(b.fcmToken).length + apnsFor(b.apnsToken).length + webFor(b.sub).length >= 3, 20_000);

      const [f] = fcmFor(b.fcmToken);
      assert.equal(fcmFor(b.fcmToken).length, 1);
      assert.deepEqual(f!.notification, { title: 'Ada', body: 'Hello Bob, are you there?' });
      assert.deepEqual(f!.data, { type: 'message', conversationId: conv, messageId: m.id, seq: String(m.seq) });
      assert.equal(f!.android?.priority, 'HIGH');
      assert.equal(f!.android?.collapse_key, conv);
      assert.equal(f!.apns?.payload?.aps?.badge, 1, 'badge = total unread');
      assert.ok(fcm.tokenRequests >= 1);

      const [p] = apnsFor(b.apnsToken);
      assert.equal(apnsFor(b.apnsToken).length, 1);
      assert.equal(p!.headers['apns-push-type'], 'alert');
      assert.equal(p!.headers['apns-priority'], '10');
      assert.equal(p!.headers['apns-topic'], apns.topic);
      assert.equal(p!.headers['apns-collapse-id'], conv);
      assert.deepEqual(p!.payload.aps.alert, { title: 'Ada', body: 'Hello Bob, are you there?' });
      assert.equal(p!.payload.aps.badge, 1);
      assert.equal(p!.payload.conversationId, conv);
      assert.equal(p!.payload.seq, String(m.seq));

      const [w] = webFor(b.sub);
      assert.equal(webFor(b.sub).length, 1);
      assert.equal(w!.payload.title, 'Ada');
      assert.equal(w!.payload.body, 'Hello Bob, are you there?');
      assert.equal(w!.payload.conversationId, conv);
      assert.equal(w!.payload.messageId, m.id);
      assert.equal(w!.payload.seq, String(m.seq));
      assert.equal(w!.headers.topic, conv);
      assert.equal(w!.vapidSubject, 'mailto:ops@parley.test');
      // The key the browser subscribes with is the one that signed.
      const k = await call(server.url, 'GET', '/v1/push/vapid-public-key');
      assert.equal(k.status, 200);
      assert.ok(w!.headers.authorization!.endsWith(`k=${k.body.publicKey}`));

      // A second message: the provider token and the access token are reused, the badge counts both.
      const tokensBefore = fcm.tokenRequests;
      const m2 = await send(a, conv, 'x'.repeat(1000));
      await jobsDone(m2.id);
      await waitFor('second FCM push', () => fcmFor(b.fcmToken).length === 2, 20_000);
      const f2 = fcmFor(b.fcmToken)[1]!;
      assert.equal(f2.apns?.payload?.aps?.badge, 2);
      assert.ok([...f2.notification!.body].length <= 180 && f2.notification!.body.endsWith('…'), 'body truncated');
      assert.equal(fcm.tokenRequests, tokensBefore, 'FCM access token cached');
      await waitFor('second APNs push', () => apnsFor(b.apnsToken).length === 2, 20_000);
      assert.equal(apns.providerTokens.size, 1, 'APNs provider token reused');
      assert.deepEqual(apns.rejected, []);
      assert.deepEqual(webpush.rejected, []);
      assert.deepEqual(fcm.rejected, []);
    });

    test('processed_jobs keeps a message\'s device pushes, one row per device, and nothing else of its notification jobs', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const conv = await direct(a, b.user);
      const m = await send(a, conv, 'Bob is offline: his devices get this');
      await jobsDone(m.id);
      await waitFor('three pushes', () => fcmFor(b.fcmToken).length + apnsFor(b.apnsToken).length + webFor(b.sub).length === 3, 20_000);
      const rows = async (messageId: string) =>
        (await server.parley.platform.sql.query<{ id: string }>('SELECT id FROM processed_jobs WHERE id LIKE $1 ORDER BY id', [`%:${messageId}%`])).rows.map((r) => r.id);
      const recorded = await rows(m.id);
      assert.equal(recorded.length, 3, JSON.stringify(recorded));
      assert.ok(recorded.every((id) => id.startsWith(`notify.push:${m.id}#device:`)), JSON.stringify(recorded));

      // The same jobs delivered again (a lost ack): they decide again, and push nothing twice.
      await server.parley.platform.jobs.enqueueMany((['notify.push', 'notify.email', 'notify.background'] as const).map((kind) => ({ kind, id: `${kind}:${m.id}`, payload: { messageId: m.id, conversationId: conv, seq: m.seq, senderId: a.id } })));
      await jobsDone(m.id, 2);
      assert.equal(fcmFor(b.fcmToken).length + apnsFor(b.apnsToken).length + webFor(b.sub).length, 3, 'no device pushed twice');
      assert.deepEqual(await rows(m.id), recorded);
    });

    test('B online and active: the WebSocket event only, no push; B idle or offline again: pushes', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const conv = await direct(a, b.user);
      const ws = await WsTestClient.connect(server.wsUrl, b.user.accessToken);
      try {
        await waitFor('B online', async () => (await server.parley.platform.presence.get([b.user.id]))[b.user.id]?.status === 'online');
        const m = await send(a, conv, 'you are here');
        await ws.waitFor((f) => f.type === 'message.new' && f.message.id === m.id);
        await jobsDone(m.id);
        assert.equal(fcmFor(b.fcmToken).length + apnsFor(b.apnsToken).length + webFor(b.sub).length, 0);
      } finally {
        ws.ws.close();
      }
      await waitFor('B offline', async () => (await server.parley.platform.presence.get([b.user.id]))[b.user.id]?.status !== 'online');
      const m2 = await send(a, conv, 'now you are gone');
      await jobsDone(m2.id);
      await waitFor('pushes to B', () => fcmFor(b.fcmToken).length === 1 && apnsFor(b.apnsToken).length === 1 && webFor(b.sub).length === 1, 20_000);
    });

    test('level none: no push at all; members only (a non-member gets not_found); mute works the same until it ends', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const stranger = await signup(server.url, 'Eve');
      const conv = await direct(a, b.user);
      const path = `/v1/conversations/${conv}/notifications`;
      const initial = await call(server.url, 'GET', path, { token: b.user.accessToken });
      assert.deepEqual(initial.body, { level: 'all', mutedUntil: null, isDefault: true });
      assert.equal((await call(server.url, 'GET', path, { token: stranger.accessToken })).status, 404);
      const refused = await call(server.url, 'PUT', path, { token: stranger.accessToken, body: { level: 'none' } });
      assert.equal(refused.status, 404);
      assert.equal(refused.body.error.code, 'not_found');
      assert.equal((await call(server.url, 'PUT', path, { token: b.user.accessToken, body: { level: 'loud' } })).status, 400);

      const put = await call(server.url, 'PUT', path, { token: b.user.accessToken, body: { level: 'none' } });
      assert.equal(put.status, 200);
      assert.deepEqual(put.body, { level: 'none', mutedUntil: null, isDefault: false });
      const m = await send(a, conv, `@${b.user.username} even a mention`);
      await jobsDone(m.id);

      const until = new Date(Date.now() + 3600_000).toISOString();
      await call(server.url, 'PUT', path, { token: b.user.accessToken, body: { level: 'all', mutedUntil: until } });
      const m2 = await send(a, conv, 'muted');
      await jobsDone(m2.id);
      assert.equal(fcmFor(b.fcmToken).length + apnsFor(b.apnsToken).length + webFor(b.sub).length, 0);

      await call(server.url, 'PUT', path, { token: b.user.accessToken, body: { level: 'all', mutedUntil: null } });
      const m3 = await send(a, conv, 'unmuted');
      await jobsDone(m3.id);
      await waitFor('pushes after unmute', () => fcmFor(b.fcmToken).length === 1, 20_000);
    });

    test('dead tokens (FCM UNREGISTERED, APNs 410, Web Push 410) are removed; the rest of the job completes', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const conv = await direct(a, b.user);
      fcm.unregistered.add(b.fcmToken);
      apns.gone.add(b.apnsToken);
      webpush.gone.add(b.sub.endpoint);
      const m = await send(a, conv, 'anyone?');
      await jobsDone(m.id);
      const left = await server.parley.platform.sql.query('SELECT platform FROM devices WHERE user_id = $1', [b.user.id]);
      assert.deepEqual(left.rows, []);
      const m2 = await send(a, conv, 'still nobody');
      await jobsDone(m2.id);
      assert.equal(fcm.rejected.filter((r) => r.status === 404).length, 1, 'no push tried to a removed device');
    });

    test('a provider down for a whole attempt: the job is retried, not swallowed, and only the failed device is pushed again', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const conv = await direct(a, b.user);
      const before = fcm.sendRequests;
      // PUSH_RETRY_ATTEMPTS (3) answers of 503: the first attempt of the job fails for FCM.
      fcm.faults.push({ status: 503 }, { status: 503 }, { status: 503 });
      const m = await send(a, conv, 'through the outage');
      await jobsDone(m.id);
      assert.equal(fcmFor(b.fcmToken).length, 1, 'delivered by the retry');
      assert.ok(fcm.sendRequests - before >= 4);
      assert.equal(apnsFor(b.apnsToken).length, 1, 'APNs not pushed twice');
      assert.equal(webFor(b.sub).length, 1, 'Web Push not pushed twice');
      assert.deepEqual(await server.parley.platform.jobs.deadLetters('notify.push'), []);
    });

    test('groups default to mentions: a plain message is a silent background push to mobile devices, a mention is an alert', async () => {
      const a = await signup(server.url, 'Ada');
      const c = await withDevices('Cy');
      const g = await call(server.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'Engines', memberIds: [c.user.id] } });
      assert.equal(g.status, 201);
      const conv = g.body.id as string;
      assert.equal((await call(server.url, 'GET', `/v1/conversations/${conv}/notifications`, { token: c.user.accessToken })).body.level, 'mentions');

      const m = await send(a, conv, 'plain group chatter');
      await jobsDone(m.id);
      await waitFor('background pushes', () => fcmFor(c.fcmToken).length === 1 && apnsFor(c.apnsToken).length === 1, 20_000);
      const f = fcmFor(c.fcmToken)[0]!;
      assert.equal(f.notification, undefined, 'data only');
      assert.equal(f.android?.priority, 'HIGH');
      assert.deepEqual(f.data, { type: 'message', conversationId: conv, messageId: m.id, seq: String(m.seq) });
      assert.equal(f.apns?.headers?.['apns-push-type'], 'background');
      const p = apnsFor(c.apnsToken)[0]!;
      assert.equal(p.headers['apns-push-type'], 'background');
      assert.equal(p.headers['apns-priority'], '5');
      assert.deepEqual(p.payload.aps, { 'content-available': 1 });
      assert.equal(p.payload.seq, String(m.seq));
      assert.equal(webFor(c.sub).length, 0, 'no silent Web Push');

      const m2 = await send(a, conv, `@${c.user.username} look at this`);
      await jobsDone(m2.id);
      await waitFor('alert for the mention', () => webFor(c.sub).length === 1 && fcmFor(c.fcmToken).length === 2, 20_000);
      assert.equal(fcmFor(c.fcmToken)[1]!.notification?.title, 'Ada in Engines');
    });

    test('messages whose jobs come together are decided together: one audience read per conversation, each message its own answer', async () => {
      const a = await signup(server.url, 'Burst');
      const c = await signup(server.url, 'Cyrus');
      const here = await signup(server.url, 'Hera');
      const g = await call(server.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'Burst', memberIds: [c.id, here.id] } });
      const other = await direct(a, c);
      const plain = await send(a, g.body.id, 'plain');
      const mention = await send(a, g.body.id, `@${c.username} @${here.username} you`);
      const gone = await send(a, g.body.id, 'to be deleted');
      const dm = await send(a, other, 'hello');
      const b = await call(server.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'Broken', memberIds: [c.id] } });
      const inBroken = await send(a, b.body.id, 'its audience cannot be read');
      assert.equal((await call(server.url, 'DELETE', `/v1/conversations/${g.body.id}/messages/${gone.id}`, { token: a.accessToken })).status, 204);
      for (const m of [plain, mention, gone, dm, inBroken]) await jobsDone(m.id);
      // Hera is connected (online and active) while the burst is decided: nothing for her, mentioned or not.
      const ws = await WsTestClient.connect(server.wsUrl, here.accessToken);
      const svc = server.parley.services.notifications;
      const activity = (svc as unknown as { d: { activity: { active(ids: string[]): Promise<Set<string>> } } }).d.activity;
      await waitFor('Hera online and active', async () => (await server.parley.platform.presence.get([here.id]))[here.id]?.status === 'online' && (await activity.active([here.id])).has(here.id));
      // The jobs' own answers are forgotten, so these calls decide afresh.
      (svc as unknown as { recent: Map<string, unknown> }).recent.clear();
      const repo = (svc as unknown as { d: { repo: { audience(id: string): Promise<unknown> } } }).d.repo;
      const audience = repo.audience.bind(repo);
      const asked: string[] = [];
      repo.audience = (id: string) => (asked.push(id), id === b.body.id ? Promise.reject(new Error('injected audience failure')) : audience(id));
      try {
        const p = (m: { id: string; seq: number }, conversationId: string) => ({ messageId: m.id, conversationId, seq: m.seq, senderId: a.id });
        const [dPlain, dMention, dGone, dDm, dMissing, dBroken] = await Promise.all([
          svc.decisions(p(plain, g.body.id)),
          svc.decisions(p(mention, g.body.id)),
          svc.decisions(p(gone, g.body.id)),
          svc.decisions(p(dm, other)),
          svc.decisions({ ...p(plain, g.body.id), messageId: 'no-such-message' }),
          svc.decisions(p(inBroken, b.body.id)).then(
            () => 'decided',
            (e: Error) => e.message,
          ),
        ]);
        assert.deepEqual(asked.sort(), [g.body.id, other, b.body.id].sort(), 'one audience read per conversation of the burst');
        assert.equal(dBroken, 'injected audience failure', 'a conversation that cannot be read fails its own jobs only');
        assert.deepEqual(dPlain && [dPlain.alerted, dPlain.background], [[], [c.id]], 'a plain group message is a background push (level mentions); never the sender, nothing for an active member');
        assert.deepEqual(dMention && [dMention.alerted, dMention.background], [[c.id], []], 'a mention alerts, but not a mentioned member who is active');
        assert.deepEqual(dDm && [dDm.alerted, dDm.background], [[c.id], []], 'a direct message alerts');
        assert.equal(dGone, null, 'a deleted message notifies no one');
        assert.equal(dMissing, null);
      } finally {
        repo.audience = audience;
        ws.ws.close();
      }
    });

    test('privacy: with previews off, pushes carry no message text', async () => {
      const a = await signup(server.url, 'Ada');
      const b = await withDevices('Bob');
      const conv = await direct(a, b.user);
      const r = await call(server.url, 'PATCH', '/v1/me/notifications', { token: b.user.accessToken, body: { pushPreview: false } });
      assert.equal(r.status, 200);
      assert.equal(r.body.pushPreview, false);
      const m = await send(a, conv, 'the secret launch code');
      await jobsDone(m.id);
      await waitFor('pushes', () => fcmFor(b.fcmToken).length === 1 && webFor(b.sub).length === 1 && apnsFor(b.apnsToken).length === 1, 20_000);
      const all = JSON.stringify([fcmFor(b.fcmToken), apnsFor(b.apnsToken), webFor(b.sub).map((w) => w.payload)]);
      assert.ok(!all.includes('secret'), all);
      assert.equal(fcmFor(b.fcmToken)[0]!.notification?.body, 'New message');
    });

    test('missed-messages email: one digest batching every unread message (text + HTML), one-click unsubscribe works without login', async () => {
      const a = await signup(server.url, 'Ada');
      const d = await signup(server.url, 'Dee');
      const conv = await direct(a, d);
      const prefs = await call(server.url, 'PATCH', '/v1/me/notifications', { token: d.accessToken, body: { emailDelaySeconds: 2 } });
      assert.deepEqual(prefs.body, { email: true, emailDelaySeconds: 2, pushPreview: true });
      const m1 = await send(a, conv, 'first unread');
      const m2 = await send(a, conv, 'second <b>unread</b>');
      await jobsDone(m1.id);
      await jobsDone(m2.id);
      const digests = () => smtp.mails.filter((x) => x.to.includes(d.email) && /unread message/.test(x.parsed.subject ?? ''));
      await waitFor('the digest', () => digests().length === 1, 20_000);
      const mail = digests()[0]!.parsed;
      assert.match(mail.subject!, /^2 unread messages in Ada/);
      assert.match(mail.text!, /Ada: first unread/);
      assert.match(mail.text!, /Ada: second <b>unread<\/b>/);
      assert.match(String(mail.html), /second &lt;b&gt;unread&lt;\/b&gt;/, 'HTML escaped');
      const header = (name: string) => mail.headerLines.find((h) => h.key === name)?.line.replace(/^[^:]+:\s*/, '');
      assert.equal(header('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
      const lu = String(header('list-unsubscribe'));
      const url = /<([^>]+)>/.exec(lu)![1]!;
      assert.ok(url.startsWith(server.url));

      // Nothing new: no second digest, even after more scans.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(digests().length, 1);

      // A forged signature does nothing; the real link turns email off.
      const forged = await fetch(url.replace(/sig=[^&]+/, 'sig=forged'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(forged.status, 404);
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.equal((await call(server.url, 'GET', '/v1/me/notifications', { token: d.accessToken })).body.email, true, 'a GET changes nothing');
      const one = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(one.status, 200);
      assert.equal((await call(server.url, 'GET', '/v1/me/notifications', { token: d.accessToken })).body.email, false);
      const m3 = await send(a, conv, 'after unsubscribing');
      await jobsDone(m3.id);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(digests().length, 1, 'no email after unsubscribing');
    });

    test('email verification on signup (login works unverified) and password reset: always 202, single use, revokes every session', async () => {
      const u = await signup(server.url, 'Pat');
      const status0 = await call(server.url, 'GET', '/v1/me/email-verification', { token: u.accessToken });
      assert.deepEqual(status0.body, { email: u.email, verified: false });
      const verifyMail = () => smtp.mails.find((x) => x.to.includes(u.email) && /Confirm your email/.test(x.parsed.subject ?? ''));
      await waitFor('verification mail', () => !!verifyMail(), 20_000);
      const link = /(http\S+\/v1\/auth\/email\/verify\?token=[A-Za-z0-9_-]+)/.exec(verifyMail()!.parsed.text!)![1]!;
      const page = async () => {
        const r = await fetch(link);
        assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
        assert.match(await r.text(), /^<!doctype html>/, 'the page itself, not a JSON-quoted string');
        return r.status;
      };
      assert.equal(await page(), 200);
      assert.equal(await page(), 400, 'single use');
      assert.equal((await call(server.url, 'GET', '/v1/me/email-verification', { token: u.accessToken })).body.verified, true);
      assert.equal((await call(server.url, 'GET', '/v1/me', { token: u.accessToken })).body.emailVerified, true);

      const second = await call(server.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: u.password } });
      assert.equal(second.status, 200);
      assert.equal((await call(server.url, 'POST', '/v1/auth/password/forgot', { body: { email: `nobody-${randomBytes(4).toString('hex')}@example.test` } })).status, 202);
      assert.equal((await call(server.url, 'POST', '/v1/auth/password/forgot', { body: { email: u.email.toUpperCase() } })).status, 202);
      const resetMail = () => smtp.mails.find((x) => x.to.includes(u.email) && /Reset your Parley password/.test(x.parsed.subject ?? ''));
      await waitFor('reset mail', () => !!resetMail(), 20_000);
      const token = /token=([A-Za-z0-9_-]+)/.exec(resetMail()!.parsed.text!)![1]!;
      assert.equal((await call(server.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'short' } })).status, 400);
      assert.equal((await call(server.url, 'POST', '/v1/auth/password/reset', { body: { token: 'x'.repeat(43), password: 'new password 123' } })).status, 400);
      assert.equal((await call(server.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'new password 123' } })).status, 204);
      assert.equal((await call(server.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'another one 456' } })).status, 400, 'single use');
      // Every session is revoked: both access tokens and refresh tokens stop working.
      assert.equal((await call(server.url, 'GET', '/v1/me', { token: u.accessToken })).status, 401);
      assert.equal((await call(server.url, 'GET', '/v1/me', { token: second.body.accessToken })).status, 401);
      assert.equal((await call(server.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } })).status, 401);
      assert.equal((await call(server.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: u.password } })).status, 401);
      assert.equal((await call(server.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: 'new password 123' } })).status, 200);

      // Rate-limited per client address (RATE_LIMIT_PASSWORD_FORGOT, 5/1h): two were used above.
      for (let i = 0; i < 3; i++) assert.equal((await call(server.url, 'POST', '/v1/auth/password/forgot', { body: { email: u.email } })).status, 202);
      const limited = await call(server.url, 'POST', '/v1/auth/password/forgot', { body: { email: u.email } });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    });

    test('mentions: listed newest first across conversations, counted, cache dropped on read, edit and leave', async () => {
      const a = await signup(server.url, 'Ada');
      const c = await signup(server.url, 'Cy');
      const g1 = (await call(server.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'One', memberIds: [c.id] } })).body.id as string;
      const g2 = (await call(server.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'Two', memberIds: [c.id] } })).body.id as string;
      const m1 = await send(a, g1, `@${c.username} first`);
      const m2 = await send(a, g2, `hey @${c.username}`);
      await jobsDone(m1.id);
      await jobsDone(m2.id);
      const list = async () => (await call(server.url, 'GET', '/v1/me/mentions', { token: c.accessToken })).body;
      let l = await list();
      assert.deepEqual(
        l.mentions.map((x: { messageId: string }) => x.messageId),
        [m2.id, m1.id],
      );
      assert.equal(l.unreadCount, 2);
      assert.equal(l.mentions[0].message.text, `hey @${c.username}`);
      assert.equal(l.mentions[0].read, false);

      // Read: the cached page and count are dropped.
      await call(server.url, 'POST', `/v1/conversations/${g2}/read`, { token: c.accessToken, body: { seq: m2.seq } });
      l = await list();
      assert.equal(l.unreadCount, 1);
      assert.equal(l.mentions[0].read, true);
      // Edit takes the mention away.
      await call(server.url, 'PATCH', `/v1/conversations/${g1}/messages/${m1.id}`, { token: a.accessToken, body: { text: 'first, no mention' } });
      l = await list();
      assert.deepEqual(
        l.mentions.map((x: { messageId: string }) => x.messageId),
        [m2.id],
      );
      assert.equal(l.unreadCount, 0);
      // Leaving: that conversation's mentions are gone from the list.
      assert.equal((await call(server.url, 'DELETE', `/v1/conversations/${g2}/members/${c.id}`, { token: c.accessToken })).status, 204);
      l = await list();
      assert.deepEqual(l.mentions, []);
      assert.equal((await call(server.url, 'GET', '/v1/me/mentions?cursor=forged', { token: c.accessToken })).status, 400);
    });

    test('OpenAPI documents the notification routes', async () => {
      const doc = (await call(server.url, 'GET', '/openapi.json')).body;
      for (const p of ['/v1/conversations/{id}/notifications', '/v1/me/notifications', '/v1/me/mentions', '/v1/auth/password/forgot', '/v1/auth/password/reset', '/v1/notifications/unsubscribe']) {
        assert.ok(doc.paths[p], `${p} in openapi.json`);
      }
    });
  });
}
