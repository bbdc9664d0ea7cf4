/**
 * A call rings on the phone of a callee who has no live connection: the calls module
 * queues `notify.call`, and the notification worker pushes "<caller> — Incoming audio call"
 * to their devices (FCM through its loopback stand-in, which checks the OAuth assertion and
 * the message). A callee who is connected gets the ring over the WebSocket only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { call, signup, startTestServer, type TestServer } from './harness.js';
import { FcmStandIn } from './support/push-standins.js';
import { WsTestClient, settle } from './support/ws-client.js';

let fcm: FcmStandIn;
let server: TestServer;
let keysDir: string;

before(async () => {
  fcm = await FcmStandIn.start();
  keysDir = mkdtempSync(join(tmpdir(), 'parley-call-push-'));
  server = await startTestServer({ sql: 'pglite', env: { FCM_SERVICE_ACCOUNT_FILE: fcm.writeServiceAccount(keysDir), FCM_BASE_URL: fcm.baseUrl, CALLS_RING_TIMEOUT: '30s' } });
});

after(async () => {
  await server?.stop();
  await fcm?.close();
  if (keysDir) rmSync(keysDir, { recursive: true, force: true });
});

test('offline callees get a ring push; connected ones do not', async () => {
  const [ann, bob, cy] = await Promise.all([signup(server.url, 'Ann'), signup(server.url, 'Bob'), signup(server.url, 'Cy')]);
  const tokens = { bob: `fcm-${randomBytes(12).toString('hex')}`, cy: `fcm-${randomBytes(12).toString('hex')}` };
  for (const [u, token] of [[bob, tokens.bob], [cy, tokens.cy]] as const) {
    const r = await call(server.url, 'POST', '/v1/me/devices', { token: u.accessToken, body: { platform: 'fcm', token } });
    assert.equal(r.status, 201);
  }
  const group = (await call(server.url, 'POST', '/v1/conversations', { token: ann.accessToken, body: { type: 'group', title: 'g', memberIds: [bob.id, cy.id] } })).body.id;
  const wcy = await WsTestClient.connect(server.wsUrl, cy.accessToken);
  try {
    const started = await call(server.url, 'POST', '/v1/calls', { token: ann.accessToken, body: { conversationId: group, kind: 'audio' } });
    assert.equal(started.status, 201);
    const callId = started.body.call.id;
    await wcy.waitFor((f) => f.type === 'call.ringing' && f.call.id === callId);
    const deadline = Date.now() + 20_000;
    while (!fcm.received.some((m) => m.token === tokens.bob)) {
      if (Date.now() > deadline) throw new Error(`no ring push for the offline callee; rejected: ${JSON.stringify(fcm.rejected)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const push = fcm.received.find((m) => m.token === tokens.bob)!;
    assert.equal(push.notification?.title, 'Ann');
    assert.equal(push.notification?.body, 'Incoming audio call');
    assert.deepEqual(push.data, { type: 'call', callId, conversationId: group, kind: 'audio' });
    await settle(500);
    assert.equal(fcm.received.filter((m) => m.token === tokens.bob).length, 1, 'one push per device');
    assert.equal(fcm.received.filter((m) => m.token === tokens.cy).length, 0, 'the connected callee rang over the WebSocket only');
  } finally {
    wcy.close();
  }
});
