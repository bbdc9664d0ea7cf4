/**
 * Push benchmark (not a test): pushes delivered per second from the worker into the
 * loopback provider stand-ins of the tests (FCM, APNs over TLS + HTTP/2, Web Push with
 * VAPID and aes128gcm), end to end from REST sends: job queue, the per-recipient decision,
 * content, badge, signing, encryption and the HTTP round trips. The stand-ins verify every
 * request as in the tests and run in this process, so their cost is included.
 *
 *   npm run bench:push                          # 100 recipients x 3 devices, 30 messages
 *   npm run bench:push -- --recipients 200 --messages 20 --prefetch 32 --sql postgres
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { call, signup, startTestServer } from '../test/harness.js';
import { ApnsStandIn, FcmStandIn, WebPushStandIn } from '../test/support/push-standins.js';
import { createTestCa } from '../test/support/test-ca.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '100' },
    messages: { type: 'string', default: '30' },
    prefetch: { type: 'string', default: '16' },
    sql: { type: 'string', default: 'pglite' },
    'max-seconds': { type: 'string', default: '300' },
  },
});
const RECIPIENTS = Number(values.recipients);
const MESSAGES = Number(values.messages);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`watchdog: over ${values['max-seconds']} s, stopping`);
    process.exit(2);
  }, Number(values['max-seconds']) * 1000);
  watchdog.unref();
  const ca = createTestCa();
  const [fcm, apns, webpush] = await Promise.all([FcmStandIn.start(), ApnsStandIn.start(ca), WebPushStandIn.start(ca)]);
  const keys = mkdtempSync(join(tmpdir(), 'parley-bench-push-'));
  const server = await startTestServer({
    sql: values.sql === 'postgres' ? 'postgres' : 'pglite',
    env: {
      FCM_SERVICE_ACCOUNT_FILE: fcm.writeServiceAccount(keys),
      FCM_BASE_URL: fcm.baseUrl,
      APNS_KEY_FILE: apns.writeKey(keys),
      APNS_KEY_ID: apns.keyId,
      APNS_TEAM_ID: apns.teamId,
      APNS_TOPIC: apns.topic,
      APNS_URL: apns.url,
      APNS_CA_FILE: ca.caFile,
      WEB_PUSH_GENERATE_KEYS: 'true',
      WEB_PUSH_CA_FILE: ca.caFile,
      RATE_LIMIT_WS_SEND: '1000000/1s',
      JOB_PREFETCH: String(values.prefetch),
      GROUP_MEMBER_LIMIT: String(Math.max(1000, RECIPIENTS + 1)),
    },
  });
  try {
    console.log(`# setup: ${RECIPIENTS} recipients with 3 devices each (FCM, APNs, Web Push), ${MESSAGES} messages, JOB_PREFETCH=${values.prefetch}, SQL ${values.sql}`);
    const sender = await signup(server.url, 'sender');
    const users = [];
    for (let i = 0; i < RECIPIENTS; i++) users.push(await signup(server.url, `r${i}`));
    const g = await call(server.url, 'POST', '/v1/conversations', { token: sender.accessToken, body: { type: 'group', title: 'Bench', memberIds: users.map((u) => u.id) } });
    const conv = g.body.id as string;
    for (const u of users) {
      await call(server.url, 'PUT', `/v1/conversations/${conv}/notifications`, { token: u.accessToken, body: { level: 'all' } });
      const sub = webpush.subscribe();
      for (const body of [
        { platform: 'fcm', token: `fcm-${randomBytes(12).toString('hex')}` },
        { platform: 'apns', token: randomBytes(32).toString('hex') },
        { platform: 'webpush', subscription: { endpoint: sub.endpoint, keys: sub.keys } },
      ]) {
        await call(server.url, 'POST', '/v1/me/devices', { token: u.accessToken, body });
      }
    }
    // Warm-up: one message, so connections, tokens and JIT are in place.
    const base = () => fcm.received.length + apns.received.length + webpush.received.length;
    await call(server.url, 'POST', `/v1/conversations/${conv}/messages`, { token: sender.accessToken, body: { clientMsgId: 'warm', text: 'warm-up' } });
    while (base() < RECIPIENTS * 3) await new Promise((r) => setTimeout(r, 20));
    const start0 = base();
    const expected = RECIPIENTS * 3 * MESSAGES;

    const sendLatency: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      const s = performance.now();
      const r = await call(server.url, 'POST', `/v1/conversations/${conv}/messages`, { token: sender.accessToken, body: { clientMsgId: `m${i}`, text: `bench message ${i}` } });
      if (r.status !== 201) throw new Error(`send failed: ${r.status}`);
      sendLatency.push(performance.now() - s);
    }
    const sent = performance.now();
    while (base() - start0 < expected) await new Promise((r) => setTimeout(r, 5));
    const t1 = performance.now();
    const seconds = (t1 - t0) / 1000;
    const rejected = fcm.rejected.length + apns.rejected.length + webpush.rejected.length;
    console.log(`pushes delivered: ${expected} in ${seconds.toFixed(2)} s = ${(expected / seconds).toFixed(0)} pushes/s (${(MESSAGES / seconds).toFixed(1)} messages/s fanned out to ${RECIPIENTS * 3} devices)`);
    console.log(`  per platform: FCM ${fcm.received.length - RECIPIENTS}, APNs ${apns.received.length - RECIPIENTS}, Web Push ${webpush.received.length - RECIPIENTS}; rejected by stand-ins: ${rejected}`);
    console.log(`  sends took ${((sent - t0) / 1000).toFixed(2)} s; the last push arrived ${((t1 - sent) / 1000).toFixed(2)} s after the last send`);
    console.log(`  REST send latency while the worker pushes: p50 ${pct(sendLatency, 50).toFixed(1)} ms, p95 ${pct(sendLatency, 95).toFixed(1)} ms`);
    console.log(`  credentials: FCM token exchanges ${fcm.tokenRequests}, APNs provider tokens ${apns.providerTokens.size}`);
  } finally {
    await server.stop();
    await Promise.all([fcm.close(), apns.close(), webpush.close()]);
    ca.remove();
    rmSync(keys, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
