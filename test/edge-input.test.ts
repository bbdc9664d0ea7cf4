/**
 * Bad input is refused at the edge with a stable 4xx / `invalid_request`, never a 500 or
 * an `internal` frame: every case issue 14 found reaching the database, and the rules
 * of docs/errors.md ("Malformed input") for ids, text and cursors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SQL_BACKENDS, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { WsTestClient } from './support/ws-client.js';
import { newId } from '../src/ids.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

for (const backend of SQL_BACKENDS) {
  describe(`edge input (${backend})`, () => {
    let s: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let cid: string;
    before(async () => {
      s = await startTestServer({ sql: backend });
      alice = await signup(s.url, 'alice');
      bob = await signup(s.url, 'bob');
      cid = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } })).body.id;
    });
    after(() => s.stop());

    test('NUL characters: 400 invalid_request on every field the issue listed', async () => {
      const cases: [string, string, unknown?][] = [
        ['POST', '/v1/auth/login', { login: 'a\u0000b', password: 'whatever-123' }],
        ['POST', '/v1/auth/login', { login: alice.username, password: 'pass\u0000word' }],
        ['GET', '/v1/users?query=%00'],
        ['GET', '/v1/users?query=ab%00cd'],
        ['POST', `/v1/conversations/${cid}/messages`, { clientMsgId: 'n1', text: 'hi', replyToId: 'a\u0000' }],
        ['POST', `/v1/conversations/${cid}/messages`, { clientMsgId: 'n2', text: 'hi', attachments: ['\u0000'] }],
        ['POST', `/v1/conversations/${cid}/messages`, { clientMsgId: 'n3', text: 'nul \u0000 in text' }],
        ['POST', '/v1/conversations', { type: 'group', title: 'g', topic: 'a\u0000', memberIds: [] }],
        ['PATCH', '/v1/me', { displayName: 'x', 'key\u0000': 1 }],
        ['GET', `/v1/conversations?cursor=${b64(['2026-01-01T00:00:00.000Z', `${newId().slice(0, 31)}\u0000`])}`],
        ['GET', `/v1/presence?userIds=${bob.id},%00`],
      ];
      for (const [method, path, body] of cases) {
        const r = await call(s.url, method, path, { token: alice.accessToken, ...(body === undefined ? {} : { body }) });
        assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'invalid_request');
      }
      // A path id with a NUL is a malformed path id: not found, like any other.
      const r = await call(s.url, 'GET', '/v1/users/ab%00cd', { token: alice.accessToken });
      assert.deepEqual([r.status, r.body.error.code], [404, 'not_found']);
    });

    test('malformed path ids are 404 not_found, exactly like ids that do not exist; in bodies 400', async () => {
      for (const path of ['/v1/users/nope', `/v1/conversations/${'Z'.repeat(32)}`, `/v1/conversations/${cid}/messages/x`, '/v1/media/..%2f..%2fetc']) {
        const malformed = await call(s.url, 'GET', path, { token: alice.accessToken });
        assert.deepEqual([malformed.status, malformed.body.error.code], [404, 'not_found'], path);
      }
      const missing = await call(s.url, 'GET', `/v1/users/${newId()}`, { token: alice.accessToken });
      const malformed = await call(s.url, 'GET', '/v1/users/nope', { token: alice.accessToken });
      assert.equal(missing.status, 404);
      assert.equal(malformed.body.error.code, missing.body.error.code);
      const body = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'g', memberIds: ['NOT-AN-ID'] } });
      assert.deepEqual([body.status, body.body.error.code], [400, 'invalid_request']);
    });

    test('forged cursors: every field checked with its range', async () => {
      const at = Date.now();
      const forgedSync = [
        { v: 1, m: { at, id: '', c: false }, e: { at, id: '1'.repeat(20), c: true } }, // above bigint: was a 500
        { v: 1, m: { at, id: '', c: false }, e: { at, id: '9223372036854775808', c: true } },
        { v: 1, m: { at, id: '', c: false }, e: { at, id: '0', c: true } },
        { v: 1, m: { at, id: '', c: false }, e: { at, id: '-1', c: true } },
        { v: 1, m: { at, id: 'a\u0000', c: true }, e: { at, id: '', c: false } },
        { v: 1, m: { at, id: 'not-a-message-id', c: true }, e: { at, id: '', c: false } },
        { v: 1, m: { at: 1e20, id: '', c: false }, e: { at, id: '', c: false } },
        { v: 1, m: { at: 1.5, id: '', c: false }, e: { at, id: '', c: false } },
        { v: 1, m: { at, id: '', c: 'yes' }, e: { at, id: '', c: false } },
        { v: 2, m: { at, id: '', c: false }, e: { at, id: '', c: false } },
        { v: 1, m: null, e: null },
        null,
        [1, 2],
      ];
      for (const c of forgedSync) {
        const r = await call(s.url, 'GET', `/v1/sync?since=${b64(c)}`, { token: alice.accessToken });
        assert.deepEqual([r.status, r.body.error?.code], [400, 'invalid_request'], JSON.stringify(c));
      }
      for (const raw of ['%00', 'not base64!', 'x'.repeat(1000)]) {
        const r = await call(s.url, 'GET', `/v1/sync?since=${raw}`, { token: alice.accessToken });
        assert.equal(r.status, 400, raw);
      }
      const forgedList = [
        ['2026-01-01T00:00:00.000Z', 'x'],
        ['2026-01-01T00:00:00.000Z', newId(), 'extra'],
        ['+275760-09-13T00:00:00.000Z', newId()],
        [12345, newId()],
        { at: '2026-01-01T00:00:00.000Z', id: newId() },
      ];
      for (const c of forgedList) {
        const r = await call(s.url, 'GET', `/v1/conversations?cursor=${b64(c)}`, { token: alice.accessToken });
        assert.deepEqual([r.status, r.body.error?.code], [400, 'invalid_request'], JSON.stringify(c));
      }
      // A real cursor still works.
      const fresh = await call(s.url, 'GET', '/v1/sync', { token: alice.accessToken });
      assert.equal((await call(s.url, 'GET', `/v1/sync?since=${fresh.body.cursor}`, { token: alice.accessToken })).status, 200);
    });

    test('WebSocket frames: NULs, malformed ids and forged cursors are invalid_request, never internal', async () => {
      const ws = await WsTestClient.connect(s.wsUrl, alice.accessToken);
      try {
        const bigEvent = b64({ v: 1, m: { at: Date.now(), id: '', c: false }, e: { at: Date.now(), id: '1'.repeat(20), c: true } });
        const frames: Record<string, unknown>[] = [
          { type: 'typing', conversationId: 'a\u0000' },
          { type: 'read', conversationId: '\u0000', seq: 1 },
          { type: 'message.send', conversationId: '\u0000', clientMsgId: 'w', text: 'x' },
          { type: 'message.send', conversationId: cid, clientMsgId: 'w', text: 'x', replyToId: 'a\u0000' },
          { type: 'message.send', conversationId: cid, clientMsgId: 'w', text: 'x', attachments: ['\u0000'] },
          { type: 'resume', conversations: { 'a\u0000': 0 } },
          { type: 'resume', conversations: { nope: 0 } },
          { type: 'resume', cursor: bigEvent },
          { type: 'typing', conversationId: 'NOT-AN-ID' },
        ];
        for (const f of frames) {
          const reply = await ws.request(f, 20_000);
          assert.equal(reply.type, 'error', JSON.stringify(f));
          assert.equal(reply.code, 'invalid_request', JSON.stringify(f));
        }
        // The connection still serves.
        const ok = await ws.request({ type: 'message.send', conversationId: cid, clientMsgId: 'after-bad', text: 'still here' }, 20_000);
        assert.equal(ok.type, 'ack');
      } finally {
        ws.close();
      }
    });
  });
}
