/**
 * The push adapters against the provider stand-ins: retries on 429/5xx honouring
 * Retry-After, no retry on a permanent 4xx, dead tokens reported, cached credentials,
 * generated VAPID keys kept, and bad key material refused at startup.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openPushSenders, PushRetryableError, type PushMessage, type PushSender } from '../src/platform/push/index.js';
import { parseRetryAfter } from '../src/platform/push/push.port.js';
import { startTestServer } from './harness.js';
import { ApnsStandIn, FcmStandIn, WebPushStandIn } from './support/push-standins.js';
import { createTestCa, type TestCa } from './support/test-ca.js';

const logger = createLogger('silent');
const alert: PushMessage = { kind: 'alert', title: 'Ada', body: 'hi', data: { conversationId: 'c1', messageId: 'm1', seq: '1' }, collapseKey: 'c1', badge: 1, ttlSeconds: 60 };

describe('push adapters', () => {
  let ca: TestCa;
  let fcm: FcmStandIn;
  let apns: ApnsStandIn;
  let webpush: WebPushStandIn;
  let dir: string;
  let senders: Record<'fcm' | 'apns' | 'webpush', PushSender>;
  let close: () => Promise<void>;

  function env(extra: Record<string, string> = {}) {
    return loadConfig(
      {
        DATA_DIR: dir,
        FCM_SERVICE_ACCOUNT_FILE: fcm.writeServiceAccount(dir),
        FCM_BASE_URL: fcm.baseUrl,
        APNS_KEY_FILE: apns.writeKey(dir),
        APNS_KEY_ID: apns.keyId,
        APNS_TEAM_ID: apns.teamId,
        APNS_TOPIC: apns.topic,
        APNS_URL: apns.url,
        APNS_CA_FILE: ca.caFile,
        WEB_PUSH_GENERATE_KEYS: 'true',
        WEB_PUSH_CA_FILE: ca.caFile,
        PUSH_RETRY_ATTEMPTS: '3',
        PUSH_RETRY_MAX_DELAY: '3s',
        ...extra,
      },
      { dotenvPath: null },
    );
  }

  before(async () => {
    ca = createTestCa();
    [fcm, apns, webpush] = await Promise.all([FcmStandIn.start(), ApnsStandIn.start(ca), WebPushStandIn.start(ca)]);
    dir = mkdtempSync(join(tmpdir(), 'parley-push-'));
    const opened = await openPushSenders(env(), logger);
    senders = opened.senders;
    close = opened.close;
  });

  after(async () => {
    await close?.();
    await Promise.all([fcm?.close(), apns?.close(), webpush?.close()]);
    ca?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('Retry-After is parsed as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('7'), 7);
    assert.ok((parseRetryAfter(new Date(Date.now() + 5000).toUTCString()) ?? 0) > 3);
    assert.equal(parseRetryAfter('soon'), undefined);
  });

  test('FCM: 429 with Retry-After is waited out and retried; 5xx retried until it gives up; a permanent 4xx is not retried', async () => {
    const token = `t-${randomBytes(6).toString('hex')}`;
    fcm.faults.push({ status: 429, retryAfter: '1' });
    let before = fcm.sendRequests;
    const t0 = Date.now();
    assert.deepEqual(await senders.fcm.send({ deviceId: 'd', platform: 'fcm', token }, alert), { outcome: 'sent' });
    assert.ok(Date.now() - t0 >= 950, 'waited the Retry-After second');
    assert.equal(fcm.sendRequests - before, 2);

    before = fcm.sendRequests;
    fcm.faults.push({ status: 503 }, { status: 503 }, { status: 503 });
    await assert.rejects(() => senders.fcm.send({ deviceId: 'd', platform: 'fcm', token }, alert), PushRetryableError);
    assert.equal(fcm.sendRequests - before, 3, 'PUSH_RETRY_ATTEMPTS attempts');

    before = fcm.sendRequests;
    fcm.faults.push({ status: 429, retryAfter: '3600' });
    await assert.rejects(() => senders.fcm.send({ deviceId: 'd', platform: 'fcm', token }, alert), PushRetryableError);
    assert.equal(fcm.sendRequests - before, 1, 'a Retry-After beyond PUSH_RETRY_MAX_DELAY is left to the job retry');

    before = fcm.sendRequests;
    fcm.faults.push({ status: 400 });
    const r = await senders.fcm.send({ deviceId: 'd', platform: 'fcm', token }, alert);
    assert.equal(r.outcome, 'rejected');
    assert.equal(fcm.sendRequests - before, 1);

    fcm.unregistered.add(token);
    assert.equal((await senders.fcm.send({ deviceId: 'd', platform: 'fcm', token }, alert)).outcome, 'gone');
    assert.equal(fcm.tokenRequests, 1, 'one access token for every send');
  });

  test('APNs: 429/5xx retried, 410 reported gone, one provider token reused', async () => {
    const token = randomBytes(32).toString('hex');
    apns.faults.push({ status: 429, retryAfter: '1' }, { status: 500 });
    const before = apns.requests;
    assert.deepEqual(await senders.apns.send({ deviceId: 'd', platform: 'apns', token }, alert), { outcome: 'sent' });
    assert.equal(apns.requests - before, 3);
    apns.gone.add(token);
    assert.equal((await senders.apns.send({ deviceId: 'd', platform: 'apns', token }, alert)).outcome, 'gone');
    assert.equal(apns.providerTokens.size, 1);
    const bad = await senders.apns.send({ deviceId: 'd', platform: 'apns', token: 'zz' }, alert);
    assert.equal(bad.outcome, 'rejected');
  });

  test('Web Push: 5xx retried, 404/410 gone, the payload decrypts', async () => {
    const sub = webpush.subscribe();
    webpush.faults.push({ status: 503, retryAfter: '0' });
    const target = { deviceId: 'd', platform: 'webpush' as const, subscription: { endpoint: sub.endpoint, keys: sub.keys } };
    assert.deepEqual(await senders.webpush.send(target, alert), { outcome: 'sent' });
    const got = webpush.received.find((w) => w.endpoint === sub.endpoint)!;
    assert.equal(got.payload.title, 'Ada');
    assert.equal(got.headers.urgency, 'high');
    webpush.gone.add(sub.endpoint);
    assert.equal((await senders.webpush.send(target, alert)).outcome, 'gone');
    const unknown = { ...target, subscription: { ...target.subscription, endpoint: `${webpush.origin}/push/unknown` } };
    assert.equal((await senders.webpush.send(unknown, alert)).outcome, 'gone', '404 is gone too');
  });

  test('generated VAPID keys are kept under DATA_DIR and reused', async () => {
    const a = await openPushSenders(env(), logger);
    const b = await openPushSenders(env(), logger);
    assert.equal(a.vapidPublicKey, b.vapidPublicKey);
    assert.equal(Buffer.from(a.vapidPublicKey, 'base64url').length, 65);
    await a.close();
    await b.close();
  });

  test('bad key material is a startup error naming the variable', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"client_email": "x"');
    await assert.rejects(
      () => openPushSenders(env({ FCM_SERVICE_ACCOUNT_FILE: bad }), logger),
      (err: unknown) => err instanceof ConfigError && /FCM_SERVICE_ACCOUNT_FILE/.test(err.message),
    );
    const badKey = join(dir, 'bad.p8');
    writeFileSync(badKey, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await assert.rejects(
      () => openPushSenders(env({ APNS_KEY_FILE: badKey }), logger),
      (err: unknown) => err instanceof ConfigError && /APNS_KEY_FILE/.test(err.message),
    );
    await assert.rejects(
      () => openPushSenders(env({ APNS_KEY_FILE: join(dir, 'missing.p8') }), logger),
      (err: unknown) => err instanceof ConfigError && /cannot read/.test(err.message),
    );
    // The real server refuses to start with it.
    await assert.rejects(() => startTestServer({ env: { FCM_SERVICE_ACCOUNT_FILE: bad } }), ConfigError);
    assert.throws(() => loadConfig({ APNS_KEY_FILE: badKey }, { dotenvPath: null }), /APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC/);
  });
});
