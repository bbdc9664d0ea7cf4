/**
 * The transactional outbox: jobs committed with a send reach the job queue exactly once
 * per job id, from whichever process is alive, even when the process that committed them
 * is killed before relaying them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { SQL_BACKENDS, TEST_JWT_SECRET, call, signup } from './harness.js';
import { createTestDatabase } from './support/postgres.js';
import { spawnParley, waitExit } from './support/process.js';
import { PGliteDatabase } from '../src/platform/sql/sql.pglite.js';
import { PostgresDatabase } from '../src/platform/sql/sql.postgres.js';
import { migrate } from '../src/platform/sql/migrator.js';
import type { SqlDatabase } from '../src/platform/sql/index.js';
import { MemoryIdempotencyStore, MemoryJobQueue } from '../src/platform/jobs/jobs.memory.js';
import { RabbitJobQueue } from '../src/platform/jobs/jobs.rabbitmq.js';
import { CONTRACT_SETTINGS, waitFor } from '../src/platform/jobs/jobs.contract.js';
import type { JobKind, JobQueue } from '../src/platform/jobs/index.js';
import { OutboxRelay } from '../src/modules/outbox/outbox.relay.js';
import { OutboxRepository } from '../src/modules/outbox/outbox.repository.js';
import { MESSAGE_JOB_KINDS } from '../src/platform/jobs/jobs.port.js';

const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const AMQP_TEST_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = promisify(execFile);
const rabbitmqctl = async (...args: string[]) => (await run('rabbitmqctl', ['--quiet', ...args], { timeout: 30_000, killSignal: 'SIGKILL' })).stdout;

async function writeRows(db: SqlDatabase, n: number, tag: string): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `notify.push:${tag}-${i}`);
  await db.query(`INSERT INTO outbox (id, kind, payload) SELECT id, 'notify.push', jsonb_build_object('i', id) FROM unnest($1::text[]) AS id`, [ids]);
  return ids;
}

/** Consumes the send job kinds from `queue`, counting deliveries per job id. */
async function countDeliveries(queue: JobQueue, kinds: readonly JobKind[]): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const kind of kinds) await queue.consume(kind, async (job) => void seen.set(job.id, (seen.get(job.id) ?? 0) + 1));
  return seen;
}

for (const backend of SQL_BACKENDS) {
  describe(`outbox relay (${backend})`, () => {
    let db: SqlDatabase;
    let drop: () => Promise<void> = async () => {};
    before(async () => {
      if (backend === 'postgres') {
        const t = await createTestDatabase();
        db = new PostgresDatabase(t.url, { max: 6 });
        drop = t.drop;
      } else {
        db = await PGliteDatabase.open(null);
      }
      await migrate(db);
    });
    after(async () => {
      await db?.close();
      await drop();
    });

    test('two relays on one database move every row to the queue once, and mark it relayed', async () => {
      const ids = await writeRows(db, 300, `two-${randomBytes(3).toString('hex')}`);
      const queue = new MemoryJobQueue({ ...CONTRACT_SETTINGS, logger: silent });
      const seen = await countDeliveries(queue, ['notify.push']);
      const relays = [0, 1].map(() => new OutboxRelay({ repo: new OutboxRepository(db), jobs: queue, logger: silent, pollSeconds: 0.05, batchSize: 16 }));
      relays.forEach((r) => r.start());
      try {
        await waitFor('every row delivered', () => ids.every((id) => seen.has(id)), 30_000);
        await waitFor('every row marked', async () => (await new OutboxRepository(db).pending()) === 0, 30_000);
      } finally {
        await Promise.all(relays.map((r) => r.stop()));
        await queue.close();
      }
      for (const id of ids) assert.equal(seen.get(id), 1, `${id} delivered once`);
    });

    test('while the queue refuses, rows stay pending (released, not held by a lease) and move once a queue accepts', async () => {
      const repo = new OutboxRepository(db);
      const ids = await writeRows(db, 5, `down-${randomBytes(3).toString('hex')}`);
      const down = new MemoryJobQueue({ ...CONTRACT_SETTINGS, logger: silent });
      await down.close(); // a closed queue rejects every enqueue, as one whose broker is gone
      const failing = new OutboxRelay({ repo, jobs: down, logger: silent, pollSeconds: 0.05 });
      await assert.rejects(failing.relayOnce());
      const held = await db.query('SELECT 1 FROM outbox WHERE id = ANY($1::text[]) AND relayed_at IS NULL AND claimed_until IS NULL', [ids]);
      assert.equal(held.rows.length, ids.length, 'released at once for the next attempt');

      const up = new MemoryJobQueue({ ...CONTRACT_SETTINGS, logger: silent });
      const seen = await countDeliveries(up, ['notify.push']);
      const relay = new OutboxRelay({ repo, jobs: up, logger: silent, pollSeconds: 0.05 });
      relay.start();
      try {
        await waitFor('delivered after the queue is back', () => ids.every((id) => seen.get(id) === 1), 20_000);
      } finally {
        await relay.stop();
        await up.close();
      }
    });
  });
}

if (SQL_BACKENDS.includes('postgres')) {
  describe('outbox: kill -9 between commit and relay', () => {
    const vhost = `parley_outbox_${randomBytes(5).toString('hex')}`;
    const amqpUrl = (() => {
      const u = new URL(AMQP_TEST_URL);
      u.pathname = `/${encodeURIComponent(vhost)}`;
      return u.toString();
    })();
    before(async () => {
      await rabbitmqctl('add_vhost', vhost);
      await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
    });
    after(async () => {
      await rabbitmqctl('delete_vhost', vhost);
    });

    test('messages committed by a process killed before relaying get every job in the queue exactly once after a restart', async () => {
      const t = await createTestDatabase();
      const env = { DATABASE_URL: t.url, AMQP_URL: amqpUrl, AMQP_QUEUE_TYPE: 'classic', JWT_SECRET: TEST_JWT_SECRET, RATE_LIMIT_SIGNUP_IP: '1000/1m', DATA_DIR: `/tmp/parley-outbox-${process.pid}`, OUTBOX_POLL_INTERVAL: '200ms' };
      const sql = new PostgresDatabase(t.url, { max: 2 });
      let consumer: RabbitJobQueue | undefined;
      const children: { child: ChildProcess }[] = [];
      try {
        // 1. A process that commits sends but never relays (OUTBOX_RELAY=false holds the
        //    jobs between commit and relay), and no worker consumes.
        const first = await spawnParley({ ...env, OUTBOX_RELAY: 'false' }, { args: ['--roles', 'api,ws'] });
        children.push(first);
        const a = await signup(first.url, 'a');
        const b = await signup(first.url, 'b');
        const g = await call(first.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'group', title: 'kill', memberIds: [b.id] } });
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) {
          const r = await call(first.url, 'POST', `/v1/conversations/${g.body.id}/messages`, { token: a.accessToken, body: { clientMsgId: `k-${i}`, text: `m${i}` } });
          assert.equal(r.status, 201);
          ids.push(r.body.id);
        }
        const pending = await sql.query<{ n: number }>('SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL');
        assert.equal(Number(pending.rows[0]!.n), ids.length, 'every send committed its outbox row (naming its jobs), none relayed');
        first.child.kill('SIGKILL');
        assert.ok(await waitExit(first.child, 10_000));

        // 2. The queue, watched from the test: every delivery of each send job counted.
        consumer = await RabbitJobQueue.open({ ...CONTRACT_SETTINGS, url: amqpUrl, prefix: 'parley', queueType: 'classic', logger: silent, idempotency: new MemoryIdempotencyStore() });
        const seen = await countDeliveries(consumer, MESSAGE_JOB_KINDS);

        // 3. Another process (the relay on, as by default) moves them.
        const second = await spawnParley(env, { args: ['--roles', 'api'] });
        children.push(second);
        const expected = ids.flatMap((id) => MESSAGE_JOB_KINDS.map((k) => `${k}:${id}`));
        await waitFor('every job of every message in the queue', () => expected.every((id) => seen.has(id)), 60_000);
        await waitFor('the outbox drained', async () => Number((await sql.query<{ n: number }>('SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL')).rows[0]!.n) === 0, 30_000);
        for (const id of expected) assert.equal(seen.get(id), 1, `${id} reached the queue once`);
        assert.equal(seen.size, expected.length);
      } finally {
        for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
        await Promise.all(children.map((c) => waitExit(c.child, 15_000)));
        await consumer?.close();
        await sql.close();
        await t.drop();
      }
    });
  });
}
