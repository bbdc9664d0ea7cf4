// Conversation features over the real server, as clients use them: message search, people
// search, edit history, pins, member roles, blocking, reports and deployment administration.
// Every new route is in the authorization matrix: a stranger and a removed member get
// not_found and no event, a wrong role gets forbidden, malformed input is 400.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SQL_BACKENDS, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { WsTestClient, settle } from './support/ws-client.js';
import { UsersRepository } from '../src/modules/users/users.repository.js';
import { startFerretDB } from './support/ferretdb.js';
import { randomBytes } from 'node:crypto';

// The suite runs on each SQL backend with the SQL message store, and once more with the
// MongoDB message store (a real mongod when MONGODB_URL is set, otherwise FerretDB).
const mongo = await startFerretDB();
if (!mongo && process.env.CI === 'true') throw new Error('no MongoDB server for the MongoDB message store run (see the [ferretdb] line above)');
const RUNS: { label: string; sql: (typeof SQL_BACKENDS)[number]; mongo: boolean }[] = [
  ...SQL_BACKENDS.map((sql) => ({ label: sql, sql, mongo: false })),
  ...(mongo ? [{ label: `${SQL_BACKENDS.includes('postgres') ? 'postgres' : 'pglite'} + MongoDB message store`, sql: SQL_BACKENDS.includes('postgres') ? ('postgres' as const) : ('pglite' as const), mongo: true }] : []),
];
after(async () => mongo?.stop());

let n = 0;
const send = (s: TestServer, u: TestUser, cid: string, text: string) =>
  call(s.url, 'POST', `/v1/conversations/${cid}/messages`, { token: u.accessToken, body: { clientMsgId: `f-${++n}-${Math.random().toString(36).slice(2)}`, text } });
const get = (s: TestServer, u: TestUser, path: string) => call(s.url, 'GET', path, { token: u.accessToken });

/** Runs `parley <args>` as a separate process (the CLI a deployment uses). */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const { NODE_TEST_CONTEXT: _ctx, ...parentEnv } = process.env;
  const child = spawn(join(process.cwd(), 'node_modules', '.bin', 'tsx'), ['src/cli.ts', ...args], { env: { ...parentEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? -1, out })));
}

for (const run of RUNS) {
  const backend = run.sql;
  describe(`conversation features (${run.label})`, () => {
    let s: TestServer;
    let alice: TestUser, bob: TestUser, carol: TestUser, dave: TestUser, mallory: TestUser, root: TestUser;
    let group: string, direct: string;
    const users = () => new UsersRepository(s.parley.platform.sql);

    before(async () => {
      const store: Record<string, string> = run.mongo ? { MONGODB_URL: mongo!.url, MONGODB_DATABASE: `parley_features_${randomBytes(4).toString('hex')}` } : {};
      s = await startTestServer({ sql: backend, env: { RATE_LIMIT_WS_SEND: '10000/10s', ...store } });
      alice = await signup(s.url, 'alice');
      bob = await signup(s.url, 'bob');
      await call(s.url, 'PATCH', '/v1/me', { token: bob.accessToken, body: { displayName: 'Bob Builder' } });
      carol = await signup(s.url, 'carol');
      dave = await signup(s.url, 'dave');
      mallory = await signup(s.url, 'mallory');
      root = await signup(s.url, 'root');
      const g = await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Team', memberIds: [bob.id, carol.id, dave.id] } });
      group = g.body.id;
      // dave was a member and was removed: from then on he is a stranger to the group
      assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${group}/members/${dave.id}`, { token: alice.accessToken })).status, 204);
      direct = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } })).body.id;
    });
    after(async () => s?.stop());

    test('message search: prefix words in any language, highlights, only your conversations, exact on edit and delete, paging', async () => {
      const m1 = (await send(s, alice, group, 'Shipping the Kubernetes upgrade on Friday')).body;
      const m2 = (await send(s, bob, group, 'Größere Änderungen kommen später')).body;
      await send(s, bob, direct, 'kubernetes in the direct chat');
      // mallory's own conversation with the same word: never in anyone else's results
      const own = (await call(s.url, 'POST', '/v1/conversations', { token: mallory.accessToken, body: { type: 'group', title: 'Secret', memberIds: [] } })).body.id;
      await send(s, mallory, own, 'kubernetes secret plans');

      const r = await get(s, alice, '/v1/search/messages?q=kube');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.results.map((h: any) => h.message.text).sort(), ['Shipping the Kubernetes upgrade on Friday', 'kubernetes in the direct chat']);
      const hit = r.body.results.find((h: any) => h.message.id === m1.id);
      assert.equal(hit.seq, m1.seq);
      assert.equal(hit.conversationId, group);
      assert.deepEqual(hit.highlights.map((x: any) => hit.snippet.slice(x.start, x.start + x.length)), ['Kubernetes']);
      assert.equal((await get(s, alice, '/v1/search/messages?q=gr%C3%B6%C3%9F')).body.results[0].message.id, m2.id, 'non-English partial word');
      assert.equal((await get(s, alice, `/v1/search/messages?q=kube&conversationId=${direct}`)).body.results.length, 1);
      assert.equal((await get(s, alice, `/v1/search/messages?q=kube&from=${bob.id}`)).body.results.length, 1);
      assert.equal((await get(s, alice, '/v1/search/messages?q=kube&has=attachment')).body.results.length, 0);
      assert.equal((await get(s, alice, `/v1/search/messages?q=kube&after=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.results.length, 0);
      assert.equal((await get(s, alice, `/v1/search/messages?q=kube&before=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.results.length, 2);

      // strangers and removed members: nothing from the group, not_found when naming it
      assert.deepEqual((await get(s, mallory, '/v1/search/messages?q=kube')).body.results.map((h: any) => h.conversationId), [own]);
      assert.equal((await get(s, dave, '/v1/search/messages?q=kube')).body.results.length, 0);
      for (const u of [mallory, dave]) {
        const nf = await get(s, u, `/v1/search/messages?q=kube&conversationId=${group}`);
        assert.equal(nf.status, 404);
        assert.equal(nf.body.error.code, 'not_found');
      }

      // exact on edit and delete
      await call(s.url, 'PATCH', `/v1/conversations/${group}/messages/${m1.id}`, { token: alice.accessToken, body: { text: 'Shipping the Nomad upgrade' } });
      assert.equal((await get(s, alice, `/v1/search/messages?q=kubernetes&conversationId=${group}`)).body.results.length, 0);
      assert.equal((await get(s, alice, '/v1/search/messages?q=nomad')).body.results.length, 1);
      await call(s.url, 'DELETE', `/v1/conversations/${group}/messages/${m1.id}`, { token: alice.accessToken });
      assert.equal((await get(s, alice, '/v1/search/messages?q=nomad')).body.results.length, 0, 'deleted text is never found');

      // paging with the cursor: every result once
      for (let i = 0; i < 5; i++) await send(s, carol, group, `zebra crossing ${i}`);
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await get(s, carol, `/v1/search/messages?q=zebra&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(page.status, 200);
        ids.push(...page.body.results.map((h: any) => h.message.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.equal(ids.length, 5);
      assert.equal(new Set(ids).size, 5);

      // malformed queries: 400 invalid_request, never 500
      for (const q of ['', 'q=', 'q=%21%21%21', 'q=a&limit=0', 'q=a&limit=51', 'q=a&cursor=nope', `q=a&cursor=${Buffer.from('[1,"x"]').toString('base64url')}`, 'q=a&before=yesterday', 'q=a&has=image', 'q=a&conversationId=..%2F', `q=${'x'.repeat(201)}`]) {
        const bad = await get(s, alice, `/v1/search/messages?${q}`);
        assert.equal(bad.status, 400, q);
        assert.equal(bad.body.error.code, 'invalid_request', q);
      }
      assert.equal((await call(s.url, 'GET', '/v1/search/messages?q=kube')).status, 401);
    });

    test('people search matches any part of a name', async () => {
      const r = await get(s, alice, '/v1/users?query=builder');
      assert.equal(r.status, 200);
      assert.ok(r.body.users.some((u: any) => u.id === bob.id), '"builder" finds "Bob Builder"');
      const mid = bob.username.slice(3, 9);
      assert.ok((await get(s, alice, `/v1/users?query=${mid}`)).body.users.some((u: any) => u.id === bob.id), 'the middle of a username');
      assert.equal((await get(s, alice, '/v1/users?query=%25')).body.users.length, 0, 'LIKE wildcards are literal');
    });

    test('edit history: previous texts for members, nothing for strangers, gone on delete', async () => {
      const m = (await send(s, bob, group, 'first draft')).body;
      await call(s.url, 'PATCH', `/v1/conversations/${group}/messages/${m.id}`, { token: bob.accessToken, body: { text: 'second draft' } });
      await call(s.url, 'PATCH', `/v1/conversations/${group}/messages/${m.id}`, { token: bob.accessToken, body: { text: 'final' } });
      const h = await get(s, carol, `/v1/conversations/${group}/messages/${m.id}/edits`);
      assert.equal(h.status, 200);
      assert.deepEqual(h.body.edits.map((e: any) => e.text), ['first draft', 'second draft']);
      assert.ok(h.body.edits.every((e: any) => e.editorId === bob.id && e.editedAt));
      for (const u of [mallory, dave]) assert.equal((await get(s, u, `/v1/conversations/${group}/messages/${m.id}/edits`)).status, 404);
      assert.equal((await get(s, alice, `/v1/conversations/${group}/messages/${'0'.repeat(32)}/edits`)).status, 404);
      assert.equal((await get(s, alice, `/v1/conversations/${group}/messages/bad%20id/edits`)).status, 404, 'a malformed path id is not_found (docs/errors.md)');
      await call(s.url, 'DELETE', `/v1/conversations/${group}/messages/${m.id}`, { token: bob.accessToken });
      assert.deepEqual((await get(s, carol, `/v1/conversations/${group}/messages/${m.id}/edits`)).body.edits, []);
    });

    test('pins: owner/admin in groups, either member in a direct conversation; events, system messages, sync; strangers get not_found and no event', async () => {
      const wsBob = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      const wsDave = await WsTestClient.connect(s.wsUrl, dave.accessToken);
      const wsMallory = await WsTestClient.connect(s.wsUrl, mallory.accessToken);
      try {
        const cursor = (await get(s, bob, '/v1/sync')).body.cursor;
        const m = (await send(s, carol, group, 'pin me')).body;
        const forbidden = await call(s.url, 'PUT', `/v1/conversations/${group}/pins/${m.id}`, { token: bob.accessToken });
        assert.equal(forbidden.status, 403);
        assert.equal(forbidden.body.error.code, 'forbidden');
        for (const u of [mallory, dave]) {
          assert.equal((await call(s.url, 'PUT', `/v1/conversations/${group}/pins/${m.id}`, { token: u.accessToken })).status, 404);
          assert.equal((await get(s, u, `/v1/conversations/${group}/pins`)).status, 404);
          assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${group}/pins/${m.id}`, { token: u.accessToken })).status, 404);
        }
        const pinned = await call(s.url, 'PUT', `/v1/conversations/${group}/pins/${m.id}`, { token: alice.accessToken });
        assert.equal(pinned.status, 200);
        assert.deepEqual(pinned.body.pins.map((p: any) => [p.message.id, p.pinnedBy]), [[m.id, alice.id]]);
        assert.equal((await call(s.url, 'PUT', `/v1/conversations/${group}/pins/${m.id}`, { token: alice.accessToken })).body.pins.length, 1, 'idempotent');
        const ev = await wsBob.waitFor((f) => f.type === 'message.pinned' && f.messageId === m.id);
        assert.equal(ev.userId, alice.id);
        assert.equal(ev.seq, m.seq);
        await wsBob.waitFor((f) => f.type === 'message.new' && f.message.system?.action === 'pinned' && f.message.system.messageId === m.id);
        assert.deepEqual((await get(s, bob, `/v1/conversations/${group}/pins`)).body.pins.map((p: any) => p.message.id), [m.id]);
        assert.equal((await call(s.url, 'PUT', `/v1/conversations/${group}/pins/${'0'.repeat(32)}`, { token: alice.accessToken })).status, 404);
        assert.equal((await call(s.url, 'PUT', `/v1/conversations/${group}/pins/not%20an%20id`, { token: alice.accessToken })).status, 404, 'a malformed path id is not_found');

        // sync replays it
        const sync = await get(s, bob, `/v1/sync?since=${cursor}`);
        assert.ok(sync.body.events.some((e: any) => e.type === 'message.pinned' && e.messageId === m.id));

        // direct: either member; a deleted message leaves the pins
        const d = (await send(s, alice, direct, 'our plan')).body;
        assert.equal((await call(s.url, 'PUT', `/v1/conversations/${direct}/pins/${d.id}`, { token: bob.accessToken })).status, 200);
        await call(s.url, 'DELETE', `/v1/conversations/${direct}/messages/${d.id}`, { token: alice.accessToken });
        assert.deepEqual((await get(s, bob, `/v1/conversations/${direct}/pins`)).body.pins, []);

        assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${group}/pins/${m.id}`, { token: bob.accessToken })).status, 403);
        assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${group}/pins/${m.id}`, { token: alice.accessToken })).status, 204);
        await wsBob.waitFor((f) => f.type === 'message.unpinned' && f.messageId === m.id);
        assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${group}/pins/${m.id}`, { token: alice.accessToken })).status, 404);
        await settle();
        for (const ws of [wsDave, wsMallory]) assert.equal(ws.frames.some((f) => String(f.type).startsWith('message.') && JSON.stringify(f).includes(m.id)), false, 'strangers get no event');
      } finally {
        wsBob.close();
        wsDave.close();
        wsMallory.close();
      }
    });

    test('member roles: the owner promotes, demotes and hands over ownership; others are refused', async () => {
      const g = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Roles', memberIds: [bob.id, carol.id] } })).body.id;
      const wsCarol = await WsTestClient.connect(s.wsUrl, carol.accessToken);
      const wsMallory = await WsTestClient.connect(s.wsUrl, mallory.accessToken);
      try {
        const cursor = (await get(s, carol, '/v1/sync')).body.cursor;
        const patch = (u: TestUser, target: string, role: unknown, cid = g) => call(s.url, 'PATCH', `/v1/conversations/${cid}/members/${target}`, { token: u.accessToken, body: { role } });
        assert.equal((await patch(bob, carol.id, 'admin')).status, 403, 'a member cannot');
        assert.equal((await patch(mallory, carol.id, 'admin')).status, 404, 'a stranger gets not_found');
        assert.equal((await patch(alice, mallory.id, 'admin')).status, 404, 'the target must be a member');
        const bad = await patch(alice, carol.id, 'superuser');
        assert.equal(bad.status, 400);
        assert.equal(bad.body.error.code, 'invalid_request');
        assert.equal((await patch(alice, alice.id, 'member')).status, 400);
        assert.equal((await patch(alice, bob.id, 'admin', direct)).status, 403, 'a direct conversation has no roles');

        const up = await patch(alice, carol.id, 'admin');
        assert.equal(up.status, 200);
        assert.equal(up.body.members.find((m: any) => m.userId === carol.id).role, 'admin');
        await wsCarol.waitFor((f) => f.type === 'member.updated' && f.userId === carol.id && f.role === 'admin');
        await wsCarol.waitFor((f) => f.type === 'message.new' && f.message.system?.action === 'admin.added');
        assert.equal((await patch(carol, bob.id, 'admin')).status, 403, 'an admin cannot change roles');

        const moved = await patch(alice, bob.id, 'owner');
        assert.equal(moved.status, 200);
        const roles = Object.fromEntries(moved.body.members.map((m: any) => [m.userId, m.role]));
        assert.deepEqual(roles, { [alice.id]: 'admin', [bob.id]: 'owner', [carol.id]: 'admin' });
        await wsCarol.waitFor((f) => f.type === 'message.new' && f.message.system?.action === 'owner.transferred');
        assert.equal((await patch(alice, carol.id, 'member')).status, 403, 'the former owner is an admin now');
        assert.equal((await patch(bob, carol.id, 'member')).status, 200);
        assert.equal((await get(s, carol, `/v1/conversations/${g}`)).body.role, 'member');
        const sync = await get(s, carol, `/v1/sync?since=${cursor}`);
        assert.ok(sync.body.events.some((e: any) => e.type === 'member.updated' && e.userId === bob.id && e.role === 'owner'));
        await settle();
        assert.equal(wsMallory.frames.some((f) => f.type === 'member.updated'), false);
      } finally {
        wsCarol.close();
        wsMallory.close();
      }
    });

    test('blocking: a blocked user cannot open or write to a direct conversation, is not offered in people search; unblock restores', async () => {
      const eve = await signup(s.url, 'eve');
      // carol blocks eve before they ever talked
      assert.equal((await call(s.url, 'PUT', `/v1/me/blocks/${eve.id}`, { token: carol.accessToken })).status, 204);
      assert.equal((await call(s.url, 'PUT', `/v1/me/blocks/${eve.id}`, { token: carol.accessToken })).status, 204, 'idempotent');
      const open = await call(s.url, 'POST', '/v1/conversations', { token: eve.accessToken, body: { type: 'direct', userId: carol.id } });
      assert.equal(open.status, 403);
      assert.equal(open.body.error.code, 'blocked');
      assert.equal((await get(s, carol, `/v1/users?query=${eve.username}`)).body.users.length, 0, 'not offered to the blocker');
      assert.equal((await get(s, eve, `/v1/users?query=${carol.username}`)).body.users.length, 1);
      const list = await get(s, carol, '/v1/me/blocks');
      assert.deepEqual(list.body.blocks.map((b: any) => b.user.id), [eve.id]);
      assert.equal((await get(s, eve, '/v1/me/blocks')).body.blocks.length, 0, 'nothing tells eve');

      // an existing direct conversation: bob blocks alice; her send is refused with a stable code, his is not
      assert.equal((await call(s.url, 'PUT', `/v1/me/blocks/${alice.id}`, { token: bob.accessToken })).status, 204);
      const refused = await send(s, alice, direct, 'hello?');
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'blocked');
      const ws = await WsTestClient.connect(s.wsUrl, alice.accessToken);
      try {
        const r = await ws.request({ type: 'message.send', conversationId: direct, clientMsgId: 'blocked-ws', text: 'over ws' });
        assert.equal(r.type, 'error');
        assert.equal(r.code, 'blocked');
      } finally {
        ws.close();
      }
      assert.equal((await send(s, bob, direct, 'I can still write')).status, 201);
      assert.equal((await send(s, alice, group, 'groups are not blocked')).status, 201);
      assert.equal((await call(s.url, 'DELETE', `/v1/me/blocks/${alice.id}`, { token: bob.accessToken })).status, 204);
      assert.equal((await send(s, alice, direct, 'thanks')).status, 201);

      assert.equal((await call(s.url, 'DELETE', `/v1/me/blocks/${alice.id}`, { token: bob.accessToken })).status, 404);
      assert.equal((await call(s.url, 'PUT', `/v1/me/blocks/${bob.id}`, { token: bob.accessToken })).status, 400);
      assert.equal((await call(s.url, 'PUT', `/v1/me/blocks/${'0'.repeat(32)}`, { token: bob.accessToken })).status, 404);
      assert.equal((await call(s.url, 'PUT', `/v1/me/blocks/x%20y`, { token: bob.accessToken })).status, 404, 'a malformed path id is not_found');
    });

    test('reports and deployment administrators: list, delete any message, deactivate an account', async () => {
      const m = (await send(s, alice, group, 'something reportable')).body;
      const report = (u: TestUser, body: unknown = { reason: 'spam' }, mid = m.id) => call(s.url, 'POST', `/v1/conversations/${group}/messages/${mid}/report`, { token: u.accessToken, body });
      const r1 = await report(bob);
      assert.equal(r1.status, 201);
      assert.equal(r1.body.reportedUserId, alice.id);
      assert.equal(r1.body.messageText, 'something reportable');
      const r2 = await report(bob, { reason: 'again' });
      assert.equal(r2.status, 200);
      assert.equal(r2.body.id, r1.body.id);
      for (const u of [mallory, dave]) assert.equal((await report(u)).status, 404);
      assert.equal((await report(alice)).status, 400, 'not your own message');
      assert.equal((await report(bob, { reason: '' })).status, 400);
      assert.equal((await report(bob, { reason: '   ' })).status, 400);
      assert.equal((await report(bob, {})).status, 400);
      assert.equal((await report(bob, { reason: 'x' }, '0'.repeat(32))).status, 404);

      // not an administrator: forbidden on every admin route
      for (const [method, path] of [
        ['GET', '/v1/admin/reports'],
        ['POST', `/v1/admin/reports/${r1.body.id}/resolve`],
        ['DELETE', `/v1/admin/conversations/${group}/messages/${m.id}`],
        ['POST', `/v1/admin/users/${mallory.id}/deactivate`],
      ] as const) {
        const r = await call(s.url, method, path, { token: root.accessToken });
        assert.equal(r.status, 403, path);
        assert.equal(r.body.error.code, 'forbidden');
      }
      assert.ok(await users().setAdmin(root.username, true));

      const listed = await get(s, root, '/v1/admin/reports');
      assert.equal(listed.status, 200);
      assert.ok(listed.body.reports.some((r: any) => r.id === r1.body.id && r.status === 'open'));
      assert.equal((await get(s, root, '/v1/admin/reports?status=bogus')).status, 400);
      assert.equal((await get(s, root, '/v1/admin/reports?cursor=zzz')).status, 400);

      const wsBob = await WsTestClient.connect(s.wsUrl, bob.accessToken);
      try {
        assert.equal((await call(s.url, 'DELETE', `/v1/admin/conversations/${group}/messages/${m.id}`, { token: root.accessToken })).status, 204);
        await wsBob.waitFor((f) => f.type === 'message.deleted' && f.messageId === m.id);
      } finally {
        wsBob.close();
      }
      assert.equal((await get(s, root, '/v1/admin/reports')).body.reports.some((r: any) => r.id === r1.body.id), false, 'resolved with the deletion');
      assert.ok((await get(s, root, '/v1/admin/reports?status=resolved')).body.reports.some((r: any) => r.id === r1.body.id));
      assert.equal((await call(s.url, 'DELETE', `/v1/admin/conversations/${group}/messages/${'0'.repeat(32)}`, { token: root.accessToken })).status, 404);

      // deactivate: sessions revoked, sockets closed, login refused
      const victim = await signup(s.url, 'victim');
      const ws = await WsTestClient.connect(s.wsUrl, victim.accessToken);
      const d = await call(s.url, 'POST', `/v1/admin/users/${victim.id}/deactivate`, { token: root.accessToken });
      assert.equal(d.status, 200);
      assert.equal(d.body.sessionsRevoked, 1);
      await ws.waitClosed(10_000);
      assert.equal((await get(s, victim, '/v1/me')).status, 401);
      assert.equal((await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: victim.refreshToken } })).status, 401);
      const login = await call(s.url, 'POST', '/v1/auth/login', { body: { login: victim.username, password: victim.password } });
      assert.equal(login.status, 403);
      assert.equal(login.body.error.code, 'account_deactivated');
      assert.equal((await get(s, alice, `/v1/users?query=${victim.username}`)).body.users.length, 0);
      assert.equal((await call(s.url, 'POST', `/v1/admin/users/${'0'.repeat(32)}/deactivate`, { token: root.accessToken })).status, 404);
      assert.equal((await call(s.url, 'POST', `/v1/admin/users/${root.id}/deactivate`, { token: root.accessToken })).status, 400);
    });

    if (backend === 'postgres' && !run.mongo) {
      test('parley admin grant <username> makes an administrator', async () => {
        const admin2 = await signup(s.url, 'admin2');
        assert.equal((await get(s, admin2, '/v1/admin/reports')).status, 403);
        const env = { DATABASE_URL: s.databaseUrl!, LOG_LEVEL: 'silent', DATA_DIR: s.dataDir };
        const ok = await runCli(['admin', 'grant', admin2.username], env);
        assert.equal(ok.code, 0, ok.out);
        assert.equal((await get(s, admin2, '/v1/admin/reports')).status, 200);
        const missing = await runCli(['admin', 'grant', 'no_such_user_here'], env);
        assert.equal(missing.code, 1);
        assert.equal((await runCli(['admin', 'grant'], env)).code, 2);
        assert.equal((await runCli(['admin', 'revoke', admin2.username], env)).code, 0);
        assert.equal((await get(s, admin2, '/v1/admin/reports')).status, 403);
      });
    }

    test('threads: replies under a root, summaries, paging, follow rules for unread counts, events and sync; strangers get not_found', async () => {
      const g = (await call(s.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Threads', memberIds: [bob.id, carol.id] } })).body.id;
      const reply = (u: TestUser, root: string, text: string) =>
        call(s.url, 'POST', `/v1/conversations/${g}/messages`, { token: u.accessToken, body: { clientMsgId: `t-${++n}-${Math.random().toString(36).slice(2)}`, text, threadRootId: root } });
      const unread = async (u: TestUser) => (await get(s, u, `/v1/conversations/${g}`)).body.unreadCount;
      const wsCarol = await WsTestClient.connect(s.wsUrl, carol.accessToken);
      const wsMallory = await WsTestClient.connect(s.wsUrl, mallory.accessToken);
      try {
        const cursor = (await get(s, carol, '/v1/sync')).body.cursor;
        const root = (await send(s, alice, g, 'should we ship on Friday?')).body;
        for (const u of [alice, bob, carol]) await call(s.url, 'POST', `/v1/conversations/${g}/read`, { token: u.accessToken, body: { seq: root.seq } });

        const r1 = await reply(bob, root.id, 'yes, after the freeze');
        assert.equal(r1.status, 201);
        assert.equal(r1.body.threadRootId, root.id);
        const ev = await wsCarol.waitFor((f) => f.type === 'thread.updated' && f.rootId === root.id);
        assert.equal(ev.replyCount, 1);
        assert.deepEqual(ev.participants, [bob.id]);
        await wsCarol.waitFor((f) => f.type === 'message.new' && f.message.id === r1.body.id && f.message.threadRootId === root.id);
        // the root author (alice) and the replier (bob) follow; carol does not, so the reply is not unread for her
        assert.equal(await unread(carol), 0, 'replies in a thread carol does not follow are not unread');
        assert.equal(await unread(alice), 1, "bob's reply is unread for alice, who follows as the root's author");
        // a reply to a reply continues the same thread
        const r2 = await reply(alice, r1.body.id, 'ok, Friday it is');
        assert.equal(r2.body.threadRootId, root.id);
        assert.equal(await unread(bob), 1, "alice's reply is unread for bob, who follows as a replier");
        assert.equal(await unread(carol), 0);
        await send(s, alice, g, 'a normal message');
        assert.equal(await unread(carol), 1);
        assert.equal((await call(s.url, 'PUT', `/v1/conversations/${g}/threads/${root.id}/follow`, { token: carol.accessToken })).status, 204);
        assert.equal(await unread(carol), 3, 'following makes the replies count');
        assert.equal((await call(s.url, 'DELETE', `/v1/conversations/${g}/threads/${root.id}/follow`, { token: carol.accessToken })).status, 204);
        assert.equal(await unread(carol), 1);

        // the thread page and the root summary
        const page = await get(s, bob, `/v1/conversations/${g}/threads/${root.id}/messages`);
        assert.equal(page.status, 200);
        assert.equal(page.body.root.id, root.id);
        assert.equal(page.body.root.threadReplyCount, 2);
        assert.deepEqual(page.body.root.threadParticipants.sort(), [alice.id, bob.id].sort());
        assert.ok(page.body.root.threadLastReplyAt);
        assert.deepEqual(page.body.messages.map((m: any) => m.id), [r1.body.id, r2.body.id]);
        assert.equal(page.body.following, true);
        const older = await get(s, bob, `/v1/conversations/${g}/threads/${root.id}/messages?limit=1`);
        assert.deepEqual(older.body.messages.map((m: any) => m.id), [r2.body.id]);
        assert.equal(older.body.hasMore, true);
        assert.deepEqual((await get(s, bob, `/v1/conversations/${g}/threads/${root.id}/messages?before=${r2.body.seq}`)).body.messages.map((m: any) => m.id), [r1.body.id]);
        const history = await get(s, carol, `/v1/conversations/${g}/messages`);
        assert.equal(history.body.messages.find((m: any) => m.id === root.id).threadReplyCount, 2, 'the root carries its summary in history too');

        // followed threads with unread replies, and the thread read position
        const mine = await get(s, bob, `/v1/conversations/${g}/threads`);
        assert.deepEqual(mine.body.threads.map((t: any) => [t.rootId, t.unreadCount]), [[root.id, 1]], "alice's reply is unread in bob's thread");
        assert.equal((await get(s, alice, `/v1/conversations/${g}/threads`)).body.threads[0].unreadCount, 0, 'replying read the thread');
        assert.equal((await call(s.url, 'POST', `/v1/conversations/${g}/threads/${root.id}/read`, { token: bob.accessToken, body: { seq: r2.body.seq } })).status, 204);
        assert.equal((await get(s, bob, `/v1/conversations/${g}/threads`)).body.threads[0].unreadCount, 0);
        assert.deepEqual((await get(s, carol, `/v1/conversations/${g}/threads`)).body.threads, []);

        // a deleted reply leaves the count
        await call(s.url, 'DELETE', `/v1/conversations/${g}/messages/${r2.body.id}`, { token: alice.accessToken });
        await wsCarol.waitFor((f) => f.type === 'thread.updated' && f.rootId === root.id && f.replyCount === 1);

        // sync replays thread events
        const sync = await get(s, carol, `/v1/sync?since=${cursor}`);
        assert.ok(sync.body.events.some((e: any) => e.type === 'thread.updated' && e.rootId === root.id));
        assert.ok(sync.body.events.some((e: any) => e.type === 'message.new' && e.message.id === r1.body.id && e.message.threadRootId === root.id));

        // over WebSocket too
        const viaWs = await wsCarol.request({ type: 'message.send', conversationId: g, clientMsgId: `ws-thread-${n}`, text: 'from the socket', threadRootId: root.id });
        assert.equal(viaWs.type, 'ack');
        assert.equal(viaWs.message.threadRootId, root.id);

        // bad input and strangers
        assert.equal((await reply(bob, '0'.repeat(32), 'x')).status, 400);
        const sys = (await get(s, bob, `/v1/conversations/${g}/messages?limit=200`)).body.messages.find((m: any) => m.kind === 'system');
        assert.equal((await reply(bob, sys.id, 'x')).status, 400, 'a system message cannot start a thread');
        assert.equal((await reply(bob, 'bad id!', 'x')).status, 400);
        for (const u of [mallory, dave]) {
          assert.equal((await get(s, u, `/v1/conversations/${g}/threads/${root.id}/messages`)).status, 404);
          assert.equal((await get(s, u, `/v1/conversations/${g}/threads`)).status, 404);
          assert.equal((await call(s.url, 'PUT', `/v1/conversations/${g}/threads/${root.id}/follow`, { token: u.accessToken })).status, 404);
          assert.equal((await call(s.url, 'POST', `/v1/conversations/${g}/threads/${root.id}/read`, { token: u.accessToken, body: { seq: 1 } })).status, 404);
        }
        assert.equal((await get(s, bob, `/v1/conversations/${g}/threads/${'0'.repeat(32)}/messages`)).status, 404);
        assert.equal((await get(s, bob, `/v1/conversations/${g}/threads/${root.id}/messages?limit=0`)).status, 400);
        assert.equal((await call(s.url, 'POST', `/v1/conversations/${g}/threads/${root.id}/read`, { token: bob.accessToken, body: { seq: -1 } })).status, 400);
        await settle();
        assert.equal(wsMallory.frames.some((f) => f.type === 'thread.updated'), false);
      } finally {
        wsCarol.close();
        wsMallory.close();
      }
    });

    test('the new routes are in the OpenAPI document', async () => {
      const doc = (await call(s.url, 'GET', '/openapi.json')).body;
      for (const p of [
        '/v1/search/messages',
        '/v1/conversations/{id}/pins',
        '/v1/conversations/{id}/pins/{messageId}',
        '/v1/conversations/{id}/messages/{messageId}/edits',
        '/v1/conversations/{id}/messages/{messageId}/report',
        '/v1/conversations/{id}/members/{userId}',
        '/v1/me/blocks',
        '/v1/me/blocks/{userId}',
        '/v1/admin/reports',
        '/v1/admin/users/{id}/deactivate',
        '/v1/conversations/{id}/threads',
        '/v1/conversations/{id}/threads/{rootId}/messages',
        '/v1/conversations/{id}/threads/{rootId}/follow',
      ]) assert.ok(doc.paths[p], p);
      assert.ok(doc.paths['/v1/conversations/{id}/members/{userId}'].patch);
    });
  });
}
