/**
 * DATABASE_REPLICA_URL: a PostgreSQL primary and a streaming replica of it, started on
 * loopback by test/support/pg-replica.ts, and the real server on both.
 * - Older history pages (`before=`) are read from the replica: with the replica's replay
 *   paused on purpose, a page sent for after the pause lags, while the newest page (from the
 *   primary) has everything; once replay resumes the older page catches up.
 * - With the replica stopped, the same pages come from the primary: nothing fails.
 * Nothing is skipped: if the PostgreSQL binaries cannot run the suite fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { startPrimaryWithReplica, type PrimaryWithReplica } from './support/pg-replica.js';

describe('PostgreSQL read replica (DATABASE_REPLICA_URL)', () => {
  let pg: PrimaryWithReplica;
  let server: TestServer;
  let alice: TestUser;
  let cid: string;

  before(async () => {
    pg = await startPrimaryWithReplica();
    server = await startTestServer({ sql: 'postgres', databaseUrl: pg.primaryUrl, env: { DATABASE_REPLICA_URL: pg.replicaUrl } });
    alice = await signup(server.url, 'rep_a');
    const bob = await signup(server.url, 'rep_b');
    const c = await call(server.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } });
    cid = c.body.id as string;
  });
  after(async () => {
    await server?.stop();
    await pg?.stop();
  });

  const send = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) {
      const r = await call(server.url, 'POST', `/v1/conversations/${cid}/messages`, { token: alice.accessToken, body: { clientMsgId: `${tag}-${i}`, text: `${tag} ${i}` } });
      assert.equal(r.status, 201);
    }
  };
  const page = async (query: string) => {
    const r = await call(server.url, 'GET', `/v1/conversations/${cid}/messages?${query}`, { token: alice.accessToken });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body.messages as { seq: number; text: string }[]).map((m) => m.seq);
  };

  test('older pages come from the replica (they lag while its replay is paused), the newest page from the primary', async () => {
    await send(10, 'one');
    await pg.caughtUp();
    assert.deepEqual(await page('before=11&limit=50'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    await pg.pauseReplay();
    try {
      await send(5, 'two');
      // The newest page is the primary's: all 15.
      assert.deepEqual(await page('limit=50'), Array.from({ length: 15 }, (_, i) => i + 1));
      // Gap fills (after=) too.
      assert.deepEqual(await page('after=10&limit=50'), [11, 12, 13, 14, 15]);
      // An older page is the replica's, which stopped at 10.
      assert.deepEqual(await page('before=16&limit=50'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      await pg.resumeReplay();
    }
    await pg.caughtUp();
    assert.deepEqual(await page('before=16&limit=50'), Array.from({ length: 15 }, (_, i) => i + 1));
  });

  test('with the replica gone, older pages are read from the primary', async () => {
    await pg.stopReplica();
    await send(2, 'three');
    assert.deepEqual(await page('before=18&limit=50'), Array.from({ length: 17 }, (_, i) => i + 1));
    assert.deepEqual(await page('before=5&limit=2'), [3, 4]);
  });
});
