import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SQL_BACKENDS, TEST_JWT_SECRET, call, signup, startTestServer, type Res, type TestServer, type TestUser } from './harness.js';
import { WsTestClient, settle } from './support/ws-client.js';
import { createTestDatabase } from './support/postgres.js';
import { freeLoopbackPort } from './support/process.js';
import { newId } from '../src/ids.js';

const send = (s: TestServer, u: TestUser, cid: string, text: string, extra: Record<string, unknown> = {}) =>
  call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: u.accessToken, body: { clientMsgId: `c-${Math.random().toString(36).slice(2)}`, text, ...extra } });

for (const backend of SQL_BACKENDS) {
  describe(`conversations & messages (${backend})`, () => {
    let s: TestServer;
    let alice: TestUser, bob: TestUser, carol: TestUser, mallory: TestUser;
    before(async () => {
      s = await startTestServer({ sql: backend, env: { GROUP_MEMBER_LIMIT: '4', RATE_LIMIT_WS_SEND: '10000/10s' } });
      alice = await signup(s.url, 'alice');
      bob = await signup(s.url, 'bob');
      carol = await signup(s.url, 'carol');
      mallory = await signup(s.url, 'mallory');
    });
    after(async () => s?.stop());

    test('direct conversations: one per pair, created idempotently from either side', async () => {
      const r1 = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } });
      assert.equal(r1.status, 201);
      assert.equal(r1.body.type, 'direct');
      assert.equal(r1.body.peerId, bob.id);
      const r2 = await call(s.url, 'POST', '/v1/conversations', { token: bob.accessToken, body: { type: 'direct', userId: alice.id } });
      assert.equal(r2.status, 200);
      assert.equal(r2.body.id, r1.body.id);
      assert.equal(r2.body.peerId, alice.id);
      const both = await Promise.all([1, 2, 3].map(() => call(s.url, 'POST', '/v1/conversations', { token: carol.accessToken, body: { type: 'direct', userId: bob.id } })));
      assert.equal(new Set(both.map((r) => r.body.id)).size, 1);
      assert.equal((await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: alice.id } })).status, 400);
      // A malformed id in a body is a malformed request; a well-formed one that names nobody is not found.
      assert.equal((await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: 'nobody' } })).status, 400);
      assert.equal((await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: newId() } })).status, 404);
      assert.equal((await call(s.url, 'POST', '/v1/conversations/' + r1.body.id + '/members', { token: alice.accessToken, body: { userIds: [carol.id] } })).status, 403);
    });

    test('groups: roles, member limit, leave, owner hand-over, system messages', async () => {
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Team', memberIds: [bob.id] } });
      assert.equal(g.status, 201);
      assert.equal(g.body.role, 'owner');
      assert.equal(g.body.memberCount, 2);
      const cid = g.body.id;
      // a plain member cannot manage members or edit the group
      assert.equal((await call(s.url, 'POST', `/v1/conversations/${cid}/members`, { token: bob.accessToken, body: { userIds: [carol.id] } })).status, 403);
      assert.equal((await call(s.url, 'PATCH', `/v1/conversations/${cid}`, { token: bob.accessToken, body: { title: 'Mine' } })).status, 403);
      assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${cid}/members/${alice.id}`, { token: bob.accessToken })).status, 403);
      const added = await call(s.url, 'POST', `/v1/conversations/${cid}/members`, { token: alice.accessToken, body: { userIds: [carol.id, carol.id] } });
      assert.equal(added.status, 200);
      assert.equal(added.body.members.length, 3);
      const over = await call(s.url, 'POST', `/v1/conversations/${cid}/members`, { token: alice.accessToken, body: { userIds: [mallory.id, (await signup(s.url, 'x')).id] } });
      assert.equal(over.status, 400, 'member limit of 4');
      assert.equal((await call(s.url, 'POST', `/v1/conversations/${cid}/members`, { token: alice.accessToken, body: { userIds: ['ghost'] } })).status, 400);
      const patched = await call(s.url, 'PATCH', `/v1/conversations/${cid}`, { token: alice.accessToken, body: { title: 'Team 2', topic: 'launch' } });
      assert.equal(patched.body.title, 'Team 2');
      assert.equal(patched.body.topic, 'launch');
      // owner leaves: the group is handed over
      assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${cid}/members/${alice.id}`, { token: alice.accessToken })).status, 204);
      assert.equal((await call(s.url, 'GET', `/v1/conversations/${cid}`, { token: alice.accessToken })).status, 404);
      const members = await call(s.url, 'GET', `/v1/conversations/${cid}/members`, { token: bob.accessToken });
      assert.deepEqual(members.body.members.map((m: any) => m.role).sort(), ['member', 'owner']);
      const history = await call(s.url, 'GET', `/v1/conversations/${cid}/messages`, { token: bob.accessToken });
      assert.deepEqual(
        history.body.messages.map((m: any) => m.system?.action),
        ['created', 'member.added', 'updated', 'member.left'],
      );
      assert.ok(history.body.messages.every((m: any) => m.kind === 'system'));
    });

    test('messages: idempotency, limits, replies, edit/delete rules, reactions, mentions and unread counts', async () => {
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Chat', memberIds: [bob.id, carol.id] } });
      const cid = g.body.id;
      const first = await call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: bob.accessToken, body: { clientMsgId: 'same', text: `hi @${alice.username} and @${mallory.username}` } });
      assert.equal(first.status, 201);
      assert.deepEqual(first.body.mentions, [alice.id], 'non-members are not mentioned');
      const retry = await call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: bob.accessToken, body: { clientMsgId: 'same', text: 'different' } });
      assert.equal(retry.status, 200);
      assert.equal(retry.body.id, first.body.id);
      assert.equal(retry.body.text, first.body.text);
      assert.equal((await send(s, bob, cid, 'x'.repeat(4001))).status, 400);
      assert.equal((await send(s, bob, cid, '🙂'.repeat(4000))).status, 201, '4000 characters, not bytes');
      assert.equal((await send(s, bob, cid, '   ')).status, 400);
      assert.equal((await send(s, bob, cid, 'nul\u0000')).status, 400);
      assert.equal((await call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: bob.accessToken, body: { text: 'no id' } })).status, 400);
      assert.equal((await call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: bob.accessToken, body: { clientMsgId: 5, text: 'x' } })).status, 400);
      const everyone = await send(s, carol, cid, '@all look');
      assert.deepEqual(everyone.body.mentions.sort(), [alice.id, bob.id].sort());

      // unread: alice has 3 unread from others, 2 of them mention her
      let conv = await call(s.url, 'GET', `/v1/conversations/${cid}`, { token: alice.accessToken });
      assert.equal(conv.body.unreadCount, 3);
      assert.equal(conv.body.unreadMentionCount, 2);
      const read = await call(s.url, 'POST', `/v1/conversations/${cid}/read`, { token: alice.accessToken, body: { seq: first.body.seq } });
      assert.deepEqual(read.body, { lastReadSeq: first.body.seq, unreadCount: 2 });
      const back = await call(s.url, 'POST', `/v1/conversations/${cid}/read`, { token: alice.accessToken, body: { seq: 1 } });
      assert.equal(back.body.lastReadSeq, first.body.seq, 'never moves backwards');
      conv = await call(s.url, 'GET', `/v1/conversations/${cid}`, { token: alice.accessToken });
      assert.equal(conv.body.unreadMentionCount, 1);
      const far = await call(s.url, 'POST', `/v1/conversations/${cid}/read`, { token: alice.accessToken, body: { seq: 1_000_000 } });
      assert.equal(far.body.lastReadSeq, conv.body.lastSeq, 'capped at the last message');
      assert.equal(far.body.unreadCount, 0);

      // replies stay in their conversation
      const other = await call(s.url, 'POST', '/v1/conversations', { token: bob.accessToken, body: { type: 'direct', userId: carol.id } });
      const elsewhere = await send(s, bob, other.body.id, 'elsewhere');
      assert.equal((await send(s, bob, cid, 'reply', { replyToId: elsewhere.body.id })).status, 400);
      const reply = await send(s, alice, cid, 'reply', { replyToId: first.body.id });
      assert.equal(reply.body.replyToId, first.body.id);

      // edit: sender only
      assert.equal((await call(s.url, 'PATCH', `/v1/conversations/${cid}/messages/${first.body.id}`, { token: alice.accessToken, body: { text: 'hacked' } })).status, 403);
      const edited = await call(s.url, 'PATCH', `/v1/conversations/${cid}/messages/${first.body.id}`, { token: bob.accessToken, body: { text: 'edited' } });
      assert.equal(edited.body.text, 'edited');
      assert.ok(edited.body.editedAt);
      assert.ok(edited.body.rev > first.body.rev);
      conv = await call(s.url, 'GET', `/v1/conversations/${cid}`, { token: alice.accessToken });
      assert.equal(conv.body.unreadMentionCount, 0, 'an edit that drops a mention drops it from the count');

      // reactions
      const r1 = await call(s.url, 'PUT', `/v1/conversations/${cid}/messages/${first.body.id}/reactions/${encodeURIComponent('👍')}`, { token: alice.accessToken });
      assert.deepEqual(r1.body.reactions, { '👍': [alice.id] });
      const r2 = await call(s.url, 'PUT', `/v1/conversations/${cid}/messages/${first.body.id}/reactions/${encodeURIComponent('👍')}`, { token: alice.accessToken });
      assert.equal(r2.body.rev, r1.body.rev, 'adding twice is a no-op');
      const r3 = await call(s.url, 'DELETE', `/v1/conversations/${cid}/messages/${first.body.id}/reactions/${encodeURIComponent('👍')}`, { token: alice.accessToken });
      assert.deepEqual(r3.body.reactions, {});
      assert.equal((await call(s.url, 'PUT', `/v1/conversations/${cid}/messages/${first.body.id}/reactions/${encodeURIComponent('a b')}`, { token: alice.accessToken })).status, 400);

      // delete: sender or owner/admin; tombstone stays
      assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${cid}/messages/${everyone.body.id}`, { token: bob.accessToken })).status, 403);
      assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${cid}/messages/${everyone.body.id}`, { token: alice.accessToken })).status, 204, 'owner moderates');
      assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${cid}/messages/${first.body.id}`, { token: bob.accessToken })).status, 204);
      const hist = await call(s.url, 'GET', `/v1/conversations/${cid}/messages?after=0&limit=200`, { token: carol.accessToken });
      const tomb = hist.body.messages.find((m: any) => m.id === first.body.id);
      assert.equal(tomb.text, null);
      assert.ok(tomb.deletedAt);
      assert.equal((await call(s.url, 'PATCH', `/v1/conversations/${cid}/messages/${first.body.id}`, { token: bob.accessToken, body: { text: 'back' } })).status, 409);
      const seqs = hist.body.messages.map((m: any) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
    });

    test('conversation list: most recent activity first, cursor pagination, caller counts', async () => {
      const u = await signup(s.url, 'lister');
      const ids: string[] = [];
      for (const peer of [alice, bob, carol]) {
        const c = await call(s.url, 'POST', '/v1/conversations', { token: u.accessToken, body: { type: 'direct', userId: peer.id } });
        ids.push(c.body.id);
      }
      await send(s, alice, ids[0]!, 'bump');
      const p1 = await call(s.url, 'GET', '/v1/conversations?limit=2', { token: u.accessToken });
      assert.equal(p1.body.conversations.length, 2);
      assert.equal(p1.body.conversations[0].id, ids[0]);
      assert.equal(p1.body.conversations[0].unreadCount, 1);
      assert.equal(p1.body.conversations[0].lastMessage.text, 'bump');
      assert.ok(p1.body.nextCursor);
      const p2 = await call(s.url, 'GET', `/v1/conversations?limit=2&cursor=${p1.body.nextCursor}`, { token: u.accessToken });
      assert.equal(p2.body.conversations.length, 1);
      assert.equal(p2.body.nextCursor, null);
      const all = [...p1.body.conversations, ...p2.body.conversations].map((c: any) => c.id);
      assert.deepEqual(all.sort(), [...ids].sort());
      assert.equal((await call(s.url, 'GET', '/v1/conversations?cursor=garbage', { token: u.accessToken })).status, 400);
    });

    test('pages of conversations active within the same millisecond skip none and repeat none', async () => {
      const u = await signup(s.url, 'samems');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const g = await call(s.url, 'POST', '/v1/conversations', { token: u.accessToken, body: { type: 'group', title: `same ms ${i}`, memberIds: [] } });
        ids.push(g.body.id);
      }
      // Five activity times inside one millisecond, microseconds apart (a busy server gives
      // such): the cursor holds milliseconds, so paging must not lose the ones in between.
      await s.parley.platform.sql.query(
        `UPDATE conversations SET last_activity_at = '2030-01-01T00:00:00.123Z'::timestamptz + make_interval(secs => x.n * 0.0001)
           FROM unnest($1::text[]) WITH ORDINALITY AS x(id, n) WHERE conversations.id = x.id`,
        [ids],
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const r: Res<{ conversations: { id: string }[]; nextCursor: string | null }> = await call(s.url, 'GET', `/v1/conversations?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: u.accessToken });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        seen.push(...r.body.conversations.map((c) => c.id));
        cursor = r.body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual([...seen].sort(), [...ids].sort(), 'every conversation once');
      assert.equal(new Set(seen).size, seen.length);
    });

    test('authorization matrix: a non-member gets not_found from every conversation route and frame', async () => {
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Secret', memberIds: [bob.id] } });
      const cid = g.body.id;
      const m = await send(s, alice, cid, 'secret');
      const mid = m.body.id;
      const routes: [string, string, unknown?][] = [
        ['GET', `/v1/conversations/${cid}`],
        ['PATCH', `/v1/conversations/${cid}`, { title: 'x' }],
        ['GET', `/v1/conversations/${cid}/members`],
        ['POST', `/v1/conversations/${cid}/members`, { userIds: [mallory.id] }],
        ['DELETE', `/v1/conversations/${cid}/members/${bob.id}`],
        ['DELETE', `/v1/conversations/${cid}/members/${mallory.id}`],
        ['POST', `/v1/conversations/${cid}/read`, { seq: 1 }],
        ['POST', `/v1/conversations/${cid}/messages`, { clientMsgId: 'm1', text: 'let me in' }],
        ['GET', `/v1/conversations/${cid}/messages`],
        ['PATCH', `/v1/conversations/${cid}/messages/${mid}`, { text: 'x' }],
        ['DELETE', `/v1/conversations/${cid}/messages/${mid}`],
        ['PUT', `/v1/conversations/${cid}/messages/${mid}/reactions/x`],
        ['DELETE', `/v1/conversations/${cid}/messages/${mid}/reactions/x`],
      ];
      for (const [method, path, body] of routes) {
        const r = await call(s.url, method, path, { token: mallory.accessToken, ...(body ? { body } : {}) });
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.equal(r.body.error.code, 'not_found');
        assert.equal(JSON.stringify(r.body).includes('secret'), false);
        // a conversation that does not exist answers the same
        const none = await call(s.url, method, path.replace(cid, 'doesnotexist'), { token: mallory.accessToken, ...(body ? { body } : {}) });
        assert.deepEqual([none.status, none.body.error.code], [404, 'not_found'], `${method} ${path} (missing)`);
      }
      const list = await call(s.url, 'GET', '/v1/conversations', { token: mallory.accessToken });
      assert.equal(list.body.conversations.some((c: any) => c.id === cid), false);
      const sync = await call(s.url, 'GET', `/v1/sync?since=${(await call(s.url, 'GET', '/v1/sync', { token: mallory.accessToken })).body.cursor}`, { token: mallory.accessToken });
      assert.equal(JSON.stringify(sync.body).includes(cid), false);

      const ws = await WsTestClient.connect(s.wsUrl, mallory.accessToken);
      try {
        for (const frame of [
          { type: 'message.send', conversationId: cid, clientMsgId: 'w1', text: 'x' },
          { type: 'read', conversationId: cid, seq: 1 },
          { type: 'typing', conversationId: cid },
          { type: 'resume', conversations: { [cid]: 0 } },
          { type: 'call.signal', callId: 'c1', to: alice.id, data: {} },
        ]) {
          const id = `f-${frame.type}`;
          ws.send({ ...frame, id });
          const reply = await ws.waitFor((f) => f.id === id && f.type === 'error');
          assert.equal(reply.code, 'not_found', frame.type);
        }
        await send(s, alice, cid, 'still secret');
        await settle();
        assert.equal(JSON.stringify(ws.frames).includes('still secret'), false);
      } finally {
        ws.close();
      }
    });

    test('a removed member stops receiving at once; an added one starts', async () => {
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Room', memberIds: [bob.id] } });
      const cid = g.body.id;
      const wsBob = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      const wsCarol = await WsTestClient.connect(s.wsUrl, carol.accessToken);
      try {
        await send(s, alice, cid, 'before');
        await wsBob.waitFor((f) => f.type === 'message.new' && f.message.text === 'before');
        assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${cid}/members/${bob.id}`, { token: alice.accessToken })).status, 204);
        await wsBob.waitFor((f) => f.type === 'member.removed' && f.userId === bob.id);
        // Once told, Bob is refused at once: typing (answered from his subscriptions) and read.
        const wsAlice = await WsTestClient.connect(s.wsUrl, alice.accessToken);
        for (const frame of [
          { type: 'typing', conversationId: cid },
          { type: 'read', conversationId: cid, seq: 1 },
        ]) {
          const id = `removed-${frame.type}`;
          wsBob.send({ ...frame, id });
          assert.equal((await wsBob.waitFor((f) => f.id === id && f.type === 'error')).code, 'not_found', frame.type);
        }
        wsAlice.close();
        assert.equal(wsAlice.frames.some((f) => f.type === 'typing' && f.userId === bob.id), false);
        assert.equal(wsBob.frames.filter((f) => f.type === 'member.removed' && f.userId === bob.id).length, 1, 'told once');
        await call(s.url, 'POST', `/v1/conversations/${cid}/members`, { token: alice.accessToken, body: { userIds: [carol.id] } });
        await wsCarol.waitFor((f) => f.type === 'conversation.updated' && f.conversation.id === cid);
        await send(s, alice, cid, 'after');
        await wsCarol.waitFor((f) => f.type === 'message.new' && f.message.text === 'after');
        await settle();
        assert.equal(wsBob.frames.some((f) => f.type === 'message.new' && f.message.text === 'after'), false);
        assert.equal(wsBob.frames.some((f) => f.type === 'message.new' && f.message.system?.action === 'member.added'), false);
        assert.equal((await call(s.url, 'GET', `/v1/conversations/${cid}/messages`, { token: bob.accessToken })).status, 404);
      } finally {
        wsBob.close();
        wsCarol.close();
      }
    });

    test('typing and presence reach the members, never stored', async () => {
      const d = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: carol.id } });
      const wsCarol = await WsTestClient.connect(s.wsUrl, carol.accessToken);
      try {
        const wsAlice = await WsTestClient.connect(s.wsUrl, alice.accessToken);
        await wsCarol.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'online');
        wsAlice.send({ type: 'typing', conversationId: d.body.id });
        await wsCarol.waitFor((f) => f.type === 'typing' && f.userId === alice.id && f.conversationId === d.body.id);
        const second = await WsTestClient.connect(s.wsUrl, alice.accessToken);
        wsAlice.close();
        await settle();
        assert.equal(wsCarol.frames.some((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline'), false, 'online while any connection lives');
        second.close();
        const off = await wsCarol.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline');
        assert.ok(off.lastSeenAt);
        const p = await call(s.url, 'GET', `/v1/presence?userIds=${alice.id},${mallory.id}`, { token: carol.accessToken });
        assert.equal(p.body.presence[alice.id].status, 'offline');
        assert.equal(p.body.presence[mallory.id], undefined, 'no presence for strangers');
        const hist = await call(s.url, 'GET', `/v1/conversations/${d.body.id}/messages`, { token: carol.accessToken });
        assert.equal(hist.body.messages.length, 0);
      } finally {
        wsCarol.close();
      }
    });

    test('bad frames get error frames; the connection and the server keep serving', async () => {
      const s = await startTestServer({ sql: backend, env: { RATE_LIMIT_WS_SEND: '5/60s', RATE_LIMIT_WS_TYPING: '3/60s' } });
      const alice = await signup(s.url, 'alice');
      const u = await signup(s.url, 'frames');
      const d = await call(s.url, 'POST', '/v1/conversations', { token: u.accessToken, body: { type: 'direct', userId: alice.id } });
      const cid = d.body.id;
      const ws = await WsTestClient.connect(s.wsUrl, u.accessToken);
      const bystander = await WsTestClient.connect(s.wsUrl, alice.accessToken);
      try {
        const bad: [unknown, string][] = [
          ['not json', 'invalid_request'],
          ['[1,2]', 'invalid_request'],
          ['"str"', 'invalid_request'],
          [{ type: 'nope', id: 'a' }, 'invalid_request'],
          [{ id: 'b' }, 'invalid_request'],
          [{ type: 'message.send', id: 'c', conversationId: 42, clientMsgId: 'x', text: 'y' }, 'invalid_request'],
          [{ type: 'message.send', id: 'd', conversationId: cid, text: 'no client id' }, 'invalid_request'],
          [{ type: 'read', id: 'e', conversationId: cid, seq: 'one' }, 'invalid_request'],
          [{ type: 'read', id: 'f', conversationId: cid, seq: -1 }, 'invalid_request'],
          [{ type: 'message.send', id: 'g', conversationId: cid, clientMsgId: 'x', text: 'x'.repeat(4001) }, 'invalid_request'],
        ];
        for (const [frame, code] of bad) {
          const before = ws.frames.length;
          ws.send(frame);
          const err = await ws.waitFor((f) => ws.frames.indexOf(f) >= before && f.type === 'error');
          assert.equal(err.code, code, JSON.stringify(frame));
          if (typeof frame === 'object' && frame && 'id' in frame) assert.equal(err.id, (frame as { id: string }).id);
        }
        ws.send({ type: 'ping', id: 'p' });
        assert.ok((await ws.waitFor((f) => f.type === 'pong' && f.id === 'p')).cursor);
        // flood: the send limit is 5 per minute on this server
        const acks = [];
        for (let i = 0; i < 8; i++) acks.push(ws.request({ type: 'message.send', conversationId: cid, clientMsgId: `flood-${i}`, text: `f${i}` }));
        const results = await Promise.all(acks);
        // 5 per minute: the oversized-text frame above (4001 > 4000 characters) is refused by
        // the schema shared with REST before it spends any of the budget, as on REST
        assert.equal(results.filter((r) => r.type === 'ack').length, 5);
        const limited = results.filter((r) => r.type === 'error');
        assert.ok(limited.every((r) => r.code === 'rate_limited' && r.retryAfter > 0));
        for (let i = 0; i < 5; i++) ws.send({ type: 'typing', conversationId: cid });
        await ws.waitFor((f) => f.type === 'error' && f.code === 'rate_limited' && /typing/i.test(f.message));
        // still usable
        assert.equal((await ws.request({ type: 'read', conversationId: cid, seq: 1 })).type, 'ack');
        // everyone else is still served
        const other = await send(s, alice, cid, 'still here');
        assert.equal(other.status, 201);
        await bystander.waitFor((f) => f.type === 'message.new' && f.message.text === 'still here');
        // oversized frame: closed with 1009
        ws.send(JSON.stringify({ type: 'typing', conversationId: cid, pad: 'x'.repeat(70 * 1024) }));
        assert.equal(await ws.waitClosed(), 1009);
        assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);
      } finally {
        ws.close();
        bystander.close();
        await s.stop();
      }
    });

    test('review fixes: ready comes first, a reset during the upgrade does not crash, sync pages always advance, joiners start read', async () => {
      // ready is the first frame, even when the user's own presence is announced at connect
      const { default: WebSocket } = await import('ws');
      const raw = new WebSocket(`${s.wsUrl}?token=${carol.accessToken}`);
      const first = await new Promise<any>((resolve, reject) => {
        raw.once('message', (d) => resolve(JSON.parse(d.toString())));
        raw.once('error', reject);
      });
      assert.equal(first.type, 'ready');
      raw.close();

      // a client that resets the TCP connection while its token is being checked
      const { connect } = await import('node:net');
      const port = Number(new URL(s.url).port);
      for (let i = 0; i < 5; i++) {
        const sock = connect(port, '127.0.0.1');
        await new Promise<void>((r) => sock.once('connect', () => r()));
        sock.write(`GET /v1/ws?token=${alice.accessToken} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        sock.resetAndDestroy();
      }
      await settle(300);
      assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);

      // many changes in the same millisecond: paging with limit=1 still reaches the end
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'burst', memberIds: [bob.id] } });
      let cursor = (await call(s.url, 'GET', '/v1/sync', { token: bob.accessToken })).body.cursor;
      const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => send(s, alice, g.body.id, `burst ${i}`)));
      assert.ok(sent.every((r) => r.status === 201));
      const seen = new Set<string>();
      for (let page = 0; ; page++) {
        assert.ok(page < 500, 'sync paging must end');
        const r = await call(s.url, 'GET', `/v1/sync?since=${cursor}&limit=1`, { token: bob.accessToken });
        assert.equal(r.status, 200);
        for (const e of r.body.events) if (e.message) seen.add(e.message.text);
        cursor = r.body.cursor;
        if (!r.body.hasMore) break;
      }
      for (let i = 0; i < 30; i++) assert.ok(seen.has(`burst ${i}`), `burst ${i}`);
      const forged = Buffer.from(JSON.stringify({ v: 1, m: { at: 1e20, id: '', c: false }, e: { at: 0, id: '', c: false } })).toString('base64url');
      assert.equal((await call(s.url, 'GET', `/v1/sync?since=${forged}`, { token: bob.accessToken })).status, 400);
      const oldCursor = Buffer.from(JSON.stringify(['-271821-04-20T00:00:00.000Z', 'x'])).toString('base64url');
      assert.equal((await call(s.url, 'GET', `/v1/conversations?cursor=${oldCursor}`, { token: bob.accessToken })).status, 400);

      // someone added to an active group does not inherit its history as unread
      await call(s.url, 'POST', `/v1/conversations/${g.body.id}/members`, { token: alice.accessToken, body: { userIds: [carol.id] } });
      const view = await call(s.url, 'GET', `/v1/conversations/${g.body.id}`, { token: carol.accessToken });
      assert.equal(view.body.unreadCount, 0);
    });

    test('the upgrade is refused without a valid token; the subprotocol form works', async () => {
      await assert.rejects(WsTestClient.connect(s.wsUrl, 'bad-token'), /401/);
      const r = await fetch(s.url + '/v1/ws');
      assert.notEqual(r.status, 101);
      const { default: WebSocket } = await import('ws');
      const ws = new WebSocket(s.wsUrl, [`bearer.${alice.accessToken}`]);
      const first = await new Promise<any>((resolve, reject) => {
        ws.once('message', (d) => resolve(JSON.parse(d.toString())));
        ws.once('error', reject);
      });
      assert.equal(first.type === 'ready' || first.type === 'presence', true);
      ws.close();
    });
  });
}


async function spawnServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freeLoopbackPort();
  // The test runner's own variables would make the child think it is a test file.
  const { NODE_TEST_CONTEXT: _ctx, ...parentEnv } = process.env;
  const child = spawn(join(process.cwd(), 'node_modules', '.bin', 'tsx'), ['src/cli.ts', 'serve'], {
    env: { ...parentEnv, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // Generous: two cold tsx starts on a loaded 2-core CI machine.
  const deadline = Date.now() + 120_000;
  while (!out.includes('parley started')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `http://127.0.0.1:${port}`, child };
}

if (SQL_BACKENDS.includes('postgres')) {
  test('two server processes on one PostgreSQL: concurrent sends get seqs 1..N, no gap or duplicate', async () => {
    const db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, RATE_LIMIT_WS_SEND: '100000/1s', RATE_LIMIT_SIGNUP_IP: '1000/1m', DATA_DIR: '/tmp/parley-two-procs' };
    const servers: { url: string; child: ChildProcess }[] = [];
    try {
      // One after the other: both migrate; the second waits on the first's advisory lock.
      servers.push(await spawnServer(env));
      servers.push(await spawnServer(env));
      const [a, b] = servers.map((x) => x.url) as [string, string];
      const u1 = await signup(a, 'p1');
      const u2 = await signup(b, 'p2');
      const g = await call(a, 'POST', '/v1/conversations', { token: u1.accessToken, body: { type: 'group', title: 'race', memberIds: [u2.id] } });
      const N = 80;
      const results = await Promise.all(
        Array.from({ length: N }, (_, i) => {
          const [base, u] = i % 2 ? [a, u1] : [b, u2];
          return call(base, 'POST', `/v1/conversations/${g.body.id}/messages`, { token: u.accessToken, body: { clientMsgId: `race-${i}`, text: `m${i}` } });
        }),
      );
      assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.find((r) => r.status !== 201)?.body));
      const hist = await call(a, 'GET', `/v1/conversations/${g.body.id}/messages?after=0&limit=200`, { token: u1.accessToken });
      const seqs = hist.body.messages.map((m: any) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
      assert.equal(hist.body.messages.filter((m: any) => m.kind === 'user').length, N);
    } finally {
      for (const x of servers) x.child.kill('SIGTERM');
      await Promise.all(servers.map((x) => new Promise((r) => (x.child.exitCode !== null ? r(null) : x.child.on('exit', r)))));
      await db.drop();
    }
  });
}
