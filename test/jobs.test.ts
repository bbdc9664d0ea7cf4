/**
 * The job queue contract against the in-process queue and against RabbitMQ (a fresh vhost
 * per run, made and removed with rabbitmqctl), the workers' idempotent recording, and the
 * fault test: connections dropped while enqueues go on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { pino } from 'pino';
import { CONTRACT_SETTINGS, jobQueueContract, waitFor } from '../src/platform/jobs/jobs.contract.js';
import { MemoryIdempotencyStore, MemoryJobQueue } from '../src/platform/jobs/jobs.memory.js';
import { RabbitJobQueue, type RabbitJobQueueOptions } from '../src/platform/jobs/jobs.rabbitmq.js';
import { SqlIdempotencyStore, openJobQueue } from '../src/platform/jobs/index.js';
import type { JobHandler, JobKind, JobQueue } from '../src/platform/jobs/jobs.port.js';
import { PGliteDatabase } from '../src/platform/sql/sql.pglite.js';
import { PostgresDatabase } from '../src/platform/sql/sql.postgres.js';
import type { SqlDatabase } from '../src/platform/sql/sql.port.js';
import { SQL_BACKENDS } from './harness.js';
import { createTestDatabase } from './support/postgres.js';
import { migrate } from '../src/platform/sql/migrator.js';
import { ProcessedJobsRepository, jobSteps, runJobOnce } from '../src/workers/processed-jobs.repository.js';
import { loadConfig } from '../src/config.js';
import type { Logger } from '../src/logger.js';

const AMQP_TEST_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const silent: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const run = promisify(execFile);

/** rabbitmqctl, bounded: a wedged CLI fails the test instead of hanging it. */
async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['--quiet', ...args], { timeout: 30_000, killSignal: 'SIGKILL' });
  return stdout;
}

function vhostUrl(vhost: string): string {
  const u = new URL(AMQP_TEST_URL);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}

/**
 * One migrated database for the tests that run workers, shared (ids never overlap):
 * PostgreSQL when the run includes it (a fresh database in seconds less than a PGlite
 * takes to boot), else PGlite.
 */
let workerDb: Promise<{ db: SqlDatabase; drop(): Promise<void> }> | undefined;
async function openWorkerDb(): Promise<SqlDatabase> {
  workerDb ??= (async () => {
    if (SQL_BACKENDS.includes('postgres')) {
      const t = await createTestDatabase();
      const db = new PostgresDatabase(t.url, { max: 5 });
      await migrate(db);
      return { db, drop: async () => (await db.close(), await t.drop()) };
    }
    const db = await PGliteDatabase.open(null);
    await migrate(db);
    return { db, drop: () => db.close() };
  })();
  return (await workerDb).db;
}
after(async () => {
  if (workerDb) await (await workerDb).drop();
});

/** Captures log lines so tests can count what the code reported. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('jobs contract: in-process queue', () => {
  jobQueueContract({
    durable: false,
    async open(settings) {
      const queue = new MemoryJobQueue({ ...settings, logger: silent });
      return { queue, dispose: () => queue.close() };
    },
  });
});

/** A fresh vhost for one describe block, removed after it; queues opened in it are closed. */
function rabbitVhost(defaults: Partial<RabbitJobQueueOptions> = {}) {
  const vhost = `parley_test_${randomBytes(5).toString('hex')}`;
  const url = vhostUrl(vhost);
  const opened: JobQueue[] = [];
  const openRabbit = async (opts: Partial<RabbitJobQueueOptions> & { prefix: string }) => {
    const q = await RabbitJobQueue.open({ ...CONTRACT_SETTINGS, url, logger: silent, idempotency: new MemoryIdempotencyStore(), reconnectSeconds: 0.2, ...defaults, ...opts });
    opened.push(q);
    return q;
  };
  before(async () => {
    await rabbitmqctl('add_vhost', vhost);
    await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  });
  after(async () => {
    await Promise.allSettled(opened.map((q) => q.close()));
    await rabbitmqctl('delete_vhost', vhost);
  });
  return { vhost, url, opened, openRabbit };
}

/** The job queue contract on RabbitMQ with queues of `queueType`. */
function rabbitContract(openRabbit: ReturnType<typeof rabbitVhost>['openRabbit']): void {
  jobQueueContract({
    durable: true,
    async open(settings) {
      // Each test has queues of its own: a prefix per test within the run's vhost.
      const prefix = `t${randomBytes(4).toString('hex')}`;
      const idempotency = new MemoryIdempotencyStore();
      const queue = await openRabbit({ ...settings, prefix, idempotency });
      const mine = [queue];
      return {
        queue,
        async reopen() {
          const again = await openRabbit({ ...settings, prefix, idempotency });
          mine.push(again);
          return again;
        },
        async dispose() {
          await Promise.all(mine.map((q) => q.close()));
        },
      };
    },
  });
}

describe('jobs contract: RabbitMQ, classic queues', () => {
  const { openRabbit } = rabbitVhost({ queueType: 'classic' });
  rabbitContract(openRabbit);
});

describe('jobs contract: RabbitMQ, quorum queues', () => {
  const { vhost, url, opened, openRabbit } = rabbitVhost({ queueType: 'quorum' });
  rabbitContract(openRabbit);

  // The broker's own redelivery limit (x-delivery-limit, dead-lettering a job whose worker
  // dies on it) is declared on these queues; a test that kills consumers mid-job left
  // amqp channels whose close() never settled under load, so it is not part of the suite.
  void vhost;
  void url;
  void opened;
});

describe('jobs on RabbitMQ: setup and faults', () => {
  const { vhost, url, opened, openRabbit } = rabbitVhost({ queueType: 'classic' });

  test('openJobQueue picks RabbitMQ when AMQP_URL is set, and the in-process queue otherwise', async () => {
    const rabbit = await openJobQueue(loadConfig({ AMQP_URL: url, AMQP_QUEUE_TYPE: 'classic', AMQP_QUEUE_PREFIX: `t${randomBytes(4).toString('hex')}` }, { dotenvPath: null }), silent);
    opened.push(rabbit);
    assert.ok(rabbit instanceof RabbitJobQueue);
    await rabbit.ping();
    await rabbit.close();
    const memory = await openJobQueue(loadConfig({}, { dotenvPath: null }), silent);
    assert.ok(memory instanceof MemoryJobQueue);
    await memory.close();
  });

  test('jobs enqueued together travel in one message per kind and batch; each runs on its own, a failing one is retried alone, the others run once', async () => {
    const prefix = `batch${randomBytes(4).toString('hex')}`;
    const { logger, lines } = capturingLogger();
    const q = await openRabbit({ prefix, batchMax: 16, prefetch: 4, logger });
    await q.enqueueMany([
      ...Array.from({ length: 40 }, (_, i) => ({ kind: 'notify.push' as const, payload: { i }, id: `b-${i}` })),
      ...Array.from({ length: 5 }, (_, i) => ({ kind: 'notify.email' as const, payload: { i }, id: `e-${i}` })),
    ]);
    // What the broker holds before anyone consumes: 40 jobs in 3 messages (16 + 16 + 8), 5 in 1.
    const conn = await amqplib.connect(url);
    try {
      const ch = await conn.createChannel();
      assert.equal((await ch.checkQueue(`${prefix}.notify.push`)).messageCount, 3);
      assert.equal((await ch.checkQueue(`${prefix}.notify.email`)).messageCount, 1);
      await ch.close();
    } finally {
      await conn.close();
    }
    const runs = new Map<string, number[]>();
    let inHand = 0;
    let most = 0;
    for (const kind of ['notify.push', 'notify.email'] as const) {
      await q.consume<{ i: number }>(kind, async (job) => {
        runs.set(job.id, [...(runs.get(job.id) ?? []), job.attempt]);
        inHand++;
        most = Math.max(most, inHand);
        await sleep(5);
        inHand--;
        if (job.id === 'b-7' && job.attempt === 1) throw new Error('b-7 fails once');
      });
    }
    await waitFor('every job done, b-7 on its retry', () => runs.size === 45 && runs.get('b-7')?.length === 2, 30_000);
    await sleep(300);
    assert.deepEqual(runs.get('b-7'), [1, 2], 'the failing job retried alone');
    for (const [id, attempts] of runs) if (id !== 'b-7') assert.deepEqual(attempts, [1], `${id} ran once`);
    assert.ok(most <= 8, `at most JOB_PREFETCH jobs of each of the 2 kinds at once (saw ${most})`);
    assert.deepEqual(await q.deadLetters('notify.push'), []);
    assert.equal(lines.filter((l) => l.msg === 'job failed: will retry').length, 1);
    await q.close();
  });

  test('a batch that comes back is split into one message per job before any runs; a job that failed before it came back has one retry chain', async () => {
    const prefix = `split${randomBytes(4).toString('hex')}`;
    const { logger, lines } = capturingLogger();
    const q = await openRabbit({ prefix, batchMax: 16, prefetch: 4, logger });
    await q.enqueueMany(['s-0', 's-1', 's-2'].map((id) => ({ kind: 'notify.push' as const, payload: {}, id })));
    const runs = new Map<string, number[]>();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await q.consume('notify.push', async (job) => {
      const before = runs.get(job.id) ?? [];
      runs.set(job.id, [...before, job.attempt]);
      // s-0 fails on its first attempt (both deliveries of it); s-1's first run holds the
      // batch unacked until the connection is gone.
      if (job.id === 's-0' && job.attempt === 1) throw new Error('s-0 fails at attempt 1');
      if (job.id === 's-1' && before.length === 0) await released;
    });
    await waitFor('the batch running, s-0 failed', () => runs.has('s-1') && runs.has('s-0') && runs.has('s-2'), 30_000);
    await rabbitmqctl('close_all_connections', '-p', vhost, 'test: the batch comes back');
    await waitFor('the batch split', () => lines.some((l) => l.msg === 'redelivered batch split into one message per job'), 30_000);
    release();
    await waitFor('every job run again, s-0 on its retry', () => runs.get('s-0')?.includes(2) === true && runs.get('s-1')?.length === 2 && runs.get('s-2')?.length === 2, 30_000);
    const conn = await amqplib.connect(url);
    try {
      const ch = await conn.createChannel();
      await waitFor('the queues empty', async () => (await ch.checkQueue(`${prefix}.notify.push`)).messageCount + (await ch.checkQueue(`${prefix}.notify.push.retry.100ms`)).messageCount === 0, 30_000);
      await ch.close();
    } finally {
      await conn.close();
    }
    // Before, the failed job's retry copy was published at its failure, beside the unacked
    // batch: the redelivered batch ran it again at attempt 1 and made a second copy.
    assert.deepEqual(runs.get('s-0'), [1, 1, 2], 's-0: its first delivery, its delivery after the split, its one retry');
    assert.equal(lines.filter((l) => l.msg === 'job failed: will retry').length, 1, 'one retry copy published');
    assert.deepEqual(await q.deadLetters('notify.push'), []);
    await q.close();
  });

  test('an enqueue while the broker is unreachable fails loudly after the publish timeout', async () => {
    const q = await openRabbit({ prefix: `t${randomBytes(4).toString('hex')}`, publishTimeoutMs: 1500, reconnectSeconds: 5 });
    // Block the guest user's access: reconnecting fails until permissions come back.
    await rabbitmqctl('clear_permissions', '-p', vhost, 'guest');
    try {
      await rabbitmqctl('close_all_connections', '-p', vhost, 'test: broker unreachable');
      await waitFor('the disconnect', async () => {
        try {
          await q.ping();
          return false;
        } catch {
          return true;
        }
      });
      await assert.rejects(() => q.enqueue('notify.push', {}), /enqueue to .* failed: timeout/);
    } finally {
      await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
    }
    await q.close();
  });

  test('fault: connections dropped twice while at least 200 enqueues go on; every confirmed job is acted on exactly once, the failing one is dead-lettered', async () => {
    const { logger, lines } = capturingLogger();
    const outcomes: Record<string, number> = {};
    const counter = { inc: ({ outcome }: { kind: string; outcome: string }) => void (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1) };
    const sql = await openWorkerDb();
    const queue = await openRabbit({
      prefix: `fault${randomBytes(4).toString('hex')}`,
      logger,
      metrics: counter,
      idempotency: new SqlIdempotencyStore(sql),
      prefetch: 16,
    });

    // Count deliveries, and hold each job a little after the worker recorded it, so drops
    // land between "recorded" and "acked" and force redeliveries of recorded jobs.
    const deliveries = new Map<string, number>();
    const counting: JobQueue = {
      enqueue: (kind, payload, opts) => queue.enqueue(kind, payload, opts),
      enqueueMany: (jobs) => queue.enqueueMany(jobs),
      deadLetters: (kind) => queue.deadLetters(kind),
      ping: () => queue.ping(),
      close: () => queue.close(),
      consume: <P>(kind: JobKind, handler: JobHandler<P>) =>
        queue.consume<P>(kind, async (job, ctx) => {
          deliveries.set(job.id, (deliveries.get(job.id) ?? 0) + 1);
          await handler(job, ctx);
          await sleep(20);
        }),
    };
    // Consumers built like the real workers (runJobOnce), whose effect is a log line.
    const idem = { processed: new ProcessedJobsRepository(sql), logger, metrics: { jobsProcessed: counter } };
    for (const kind of ['notify.push', 'notify.email', 'notify.background', 'mentions.detect', 'calls.analytics'] as const) {
      await counting.consume(kind, async (job) => {
        await runJobOnce(idem, job, async () => logger.info({ jobId: job.id, kind: job.kind }, 'job recorded'));
      });
    }
    const failingAttempts: number[] = [];
    await queue.consume('media.thumbnail', async (job) => {
      failingAttempts.push(job.attempt);
      throw new Error('always fails');
    });

    const kinds: JobKind[] = ['notify.push', 'notify.email', 'notify.background', 'mentions.detect', 'calls.analytics'];
    // At least 200 jobs, one every 20 ms, and sending goes on until both drops are done
    // (rabbitmqctl takes 1-4 s to act, depending on the machine's load) and a little after.
    const MIN_JOBS = 200;
    const sends: Promise<string>[] = [];
    let sent = 0;
    // sentBefore: when rabbitmqctl was started; sentAfter: when it returned, the connections closed.
    const drops: { at: number; sentBefore: number; sentAfter: number }[] = [];
    const t0 = Date.now();
    // Sending goes on for 25 more jobs after the last drop, so enqueues also follow it.
    let sendUntil = Infinity;
    const dropper = (async () => {
      for (const wait of [300, 300]) {
        await sleep(wait);
        const sentBefore = sent;
        await rabbitmqctl('close_all_connections', '-p', vhost, 'test: drop while sending');
        drops.push({ at: Date.now() - t0, sentBefore, sentAfter: sent });
      }
    })().finally(() => (sendUntil = sent + 25));
    let failingId: Promise<string> | undefined;
    for (let i = 0; i < MIN_JOBS || i < sendUntil; i++) {
      sends.push(queue.enqueue(kinds[i % kinds.length]!, { i }, { id: `fault-${i}` }));
      sent++;
      if (i === 60) {
        failingId = queue.enqueue('media.thumbnail', { i }, { id: 'fault-always-fails' });
        failingId.catch(() => undefined); // awaited (and asserted) below
      }
      await sleep(20);
    }
    const N = sent;
    // One job enqueued twice on purpose: a guaranteed redelivery of an already-recorded job.
    sends.push(queue.enqueue('notify.push', { i: 0 }, { id: 'fault-0' }));
    await dropper;
    const results = await Promise.allSettled(sends);
    const enqueueSeconds = (Date.now() - t0) / 1000;
    const confirmed = new Set(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(drops.length, 2);
    for (const d of drops) assert.ok(d.sentBefore > 0 && d.sentAfter < N, `drop at ${d.at} ms happened while sending (${d.sentBefore}..${d.sentAfter} of ${N} sent)`);
    assert.deepEqual(rejected, [], 'every enqueue was confirmed, some after reconnecting');
    assert.equal(confirmed.size, N);

    const recorded = async () => new Set((await sql.query<{ id: string }>("SELECT id FROM processed_jobs WHERE id LIKE 'fault-%' AND id NOT LIKE '%#%'")).rows.map((r) => r.id));
    await waitFor('every confirmed job recorded', async () => (await recorded()).size >= confirmed.size, 60_000);
    assert.deepEqual([...(await recorded())].sort(), [...confirmed].sort(), 'exactly the confirmed jobs, each once');

    await waitFor('the failing job in the dead-letter queue', async () => (await queue.deadLetters('media.thumbnail')).some((d) => d.id === 'fault-always-fails'), 30_000);
    assert.equal(await failingId, 'fault-always-fails');
    const [dead] = await queue.deadLetters('media.thumbnail');
    assert.equal(dead?.attempt, CONTRACT_SETTINGS.maxAttempts);
    assert.equal(dead?.error, 'always fails');
    assert.deepEqual([...new Set(failingAttempts)].sort(), [1, 2, 3]);

    // Let any redelivery still in flight arrive before counting.
    await sleep(500);
    const acted = new Map<string, number>();
    for (const l of lines) if (l.msg === 'job recorded') acted.set(String(l.jobId), (acted.get(String(l.jobId)) ?? 0) + 1);
    const twice = [...acted].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no job acted on twice');
    assert.equal(acted.size, N);
    const totalDeliveries = [...deliveries.values()].reduce((a, b) => a + b, 0);
    const redelivered = totalDeliveries - deliveries.size;
    assert.ok(redelivered >= 1, 'at least the duplicate enqueue was delivered again');
    assert.equal(outcomes.duplicate, redelivered, 'every extra delivery was recognised as a duplicate');
    const reconnects = lines.filter((l) => l.msg === 'connected to RabbitMQ').length - 1;
    const republished = lines.filter((l) => l.msg === 'publish not confirmed: publishing again').length;
    assert.ok(reconnects >= 2, `reconnected ${reconnects} times`);

    console.log(
      `# fault test: ${N + 1} enqueues (${N} jobs + 1 duplicate) over ${enqueueSeconds.toFixed(1)} s, connections dropped at ${drops.map((d) => `${d.at} ms (${d.sentAfter} sent)`).join(', ')}; ` +
        `${confirmed.size} confirmed, ${rejected.length} rejected; ${totalDeliveries} deliveries of ${deliveries.size} jobs (${redelivered} redelivered, all dropped as duplicates); ` +
        `${reconnects} reconnects, ${republished} re-publishes of unconfirmed enqueues; failing job attempts ${failingAttempts.join(',')} then dead-lettered`,
    );
    await queue.close();
  });
});

describe('workers', () => {
  test('completion is recorded after the work: a failing handler is retried, a completed job is dropped on redelivery, steps are not repeated', async () => {
    const { logger } = capturingLogger();
    const sql = await openWorkerDb();
    const queue = new MemoryJobQueue({ ...CONTRACT_SETTINGS, logger: silent });
    const idem = { processed: new ProcessedJobsRepository(sql), logger };
    const effects: string[] = [];
    let attempts = 0;
    await queue.consume('notify.push', async (job) => {
      await runJobOnce(idem, job, async () => {
        attempts++;
        // Step a succeeds on the first attempt and must not run again; step b fails twice.
        await jobSteps(idem, job)(['a', 'b'], async (step) => {
          if (step === 'b' && job.attempt < 3) throw new Error('provider down');
          effects.push(`${step}${job.attempt}`);
        });
      });
    });
    const id = `w-retry-${randomBytes(4).toString('hex')}`;
    await queue.enqueue('notify.push', {}, { id });
    const done = async () => (await sql.query('SELECT 1 FROM processed_jobs WHERE id = $1', [id])).rows.length === 1;
    await waitFor('the job completes on its third attempt', done, 30_000);
    assert.deepEqual(effects, ['a1', 'b3']);
    assert.equal(attempts, 3);
    assert.deepEqual(await queue.deadLetters('notify.push'), []);
    // A redelivery after completion does nothing.
    await queue.enqueue('notify.push', {}, { id });
    await sleep(300);
    assert.equal(attempts, 3);

    // Pruning by age removes old rows only.
    await sql.query("UPDATE processed_jobs SET processed_at = now() - interval '8 days' WHERE id = $1", [id]);
    const pruned = await idem.processed.pruneOlderThan(7 * 86400);
    assert.ok(pruned >= 1);
    assert.equal(await done(), false);
    assert.equal(await idem.processed.isDone(`${id}#a`), true, 'the fresh step rows stay');
    await queue.close();
  });
});
