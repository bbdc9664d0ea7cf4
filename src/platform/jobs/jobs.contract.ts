/**
 * The job queue contract: every adapter (in-process, RabbitMQ) must pass it. Run from
 * `test/jobs.test.ts`. Delays are short (JOB_RETRY_DELAY 0.1 s, JOB_MAX_ATTEMPTS 3), and
 * timing is only checked from below: a retry must not come before its delay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, JobKind, JobQueue, JobQueueSettings } from './jobs.port.js';

export interface OpenedQueue {
  queue: JobQueue;
  /** Opens the same queues again, as a restarted process would (durable adapters only). */
  reopen?: () => Promise<JobQueue>;
  /** Closes whatever is still open and removes the queues. */
  dispose(): Promise<void>;
}

export interface JobQueueFactory {
  /** True when jobs outlive the queue object (a broker): enables the restart checks. */
  durable: boolean;
  /** A queue over fresh, empty queues of its own. */
  open(settings: JobQueueSettings): Promise<OpenedQueue>;
}

export const CONTRACT_SETTINGS: JobQueueSettings = { prefetch: 16, maxAttempts: 3, retryDelaySeconds: 0.1, shutdownGraceSeconds: 5 };

/** Polls `cond` until it holds; fails with `what` after `ms`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function jobQueueContract(factory: JobQueueFactory): void {
  const withQueue = (name: string, settings: Partial<JobQueueSettings>, fn: (q: JobQueue, opened: OpenedQueue) => Promise<void>) =>
    test(name, async () => {
      const opened = await factory.open({ ...CONTRACT_SETTINGS, ...settings });
      try {
        await fn(opened.queue, opened);
      } finally {
        await opened.dispose();
      }
    });

  withQueue('enqueued jobs wait for a consumer, then arrive with id, kind, payload and attempt 1', {}, async (q) => {
    const id1 = await q.enqueue('notify.push', { n: 1, nested: { ok: true } });
    const ids = await q.enqueueMany([
      { kind: 'notify.push', payload: { n: 2 }, id: 'custom-id-2' },
      { kind: 'notify.email', payload: 'text payload' },
    ]);
    assert.equal(typeof id1, 'string');
    assert.equal(ids[0], 'custom-id-2');
    assert.equal(ids.length, 2);
    assert.notEqual(ids[1], id1);

    const got: Job[] = [];
    await q.consume('notify.push', async (job) => void got.push(job));
    await q.consume('notify.email', async (job) => void got.push(job));
    await waitFor('3 jobs', () => got.length === 3);
    await sleep(100);
    assert.equal(got.length, 3, 'each job once');
    const byId = new Map(got.map((j) => [j.id, j]));
    assert.deepEqual(byId.get(id1)?.payload, { n: 1, nested: { ok: true } });
    assert.equal(byId.get(id1)?.kind, 'notify.push');
    assert.deepEqual(byId.get('custom-id-2')?.payload, { n: 2 });
    assert.equal(byId.get(ids[1]!)?.kind, 'notify.email');
    assert.equal(byId.get(ids[1]!)?.payload, 'text payload');
    for (const j of got) {
      assert.equal(j.attempt, 1);
      assert.ok(Math.abs(Date.parse(j.enqueuedAt) - Date.now()) < 60_000, j.enqueuedAt);
    }
    await assert.rejects(() => q.consume('notify.push', async () => undefined), /already consuming/);
    await assert.rejects(() => q.enqueue('no.such.kind' as JobKind, {}), /unknown job kind/);
  });

  withQueue('a failing handler is retried with growing delays: attempts 1, 2, 3', {}, async (q) => {
    const seen: { attempt: number; at: number }[] = [];
    await q.consume<{ x: number }>('mentions.detect', async (job) => {
      seen.push({ attempt: job.attempt, at: performance.now() });
      assert.deepEqual(job.payload, { x: 42 });
      if (job.attempt < 3) throw new Error(`fail ${job.attempt}`);
    });
    const id = await q.enqueue('mentions.detect', { x: 42 });
    await waitFor('3 attempts', () => seen.length === 3);
    await sleep(400);
    assert.deepEqual(seen.map((s) => s.attempt), [1, 2, 3]);
    const gap1 = seen[1]!.at - seen[0]!.at;
    const gap2 = seen[2]!.at - seen[1]!.at;
    // JOB_RETRY_DELAY 100 ms, then doubled (a little slack for timer granularity).
    assert.ok(gap1 >= 90, `first retry after ${gap1.toFixed(0)} ms`);
    assert.ok(gap2 >= 180, `second retry after ${gap2.toFixed(0)} ms`);
    assert.deepEqual(await q.deadLetters('mentions.detect'), [], `${id} succeeded on attempt 3`);
  });

  withQueue('a job failing every attempt is dead-lettered after JOB_MAX_ATTEMPTS; reading leaves it there', {}, async (q) => {
    const attempts: number[] = [];
    await q.consume('calls.analytics', async (job) => {
      attempts.push(job.attempt);
      throw new Error(`boom ${job.attempt}`);
    });
    const id = await q.enqueue('calls.analytics', { call: 'c1' });
    await waitFor('the dead letter', async () => (await q.deadLetters('calls.analytics')).length === 1);
    await sleep(300);
    assert.deepEqual(attempts, [1, 2, 3], 'no attempt after the last');
    const [dead] = await q.deadLetters('calls.analytics');
    assert.equal(dead?.id, id);
    assert.equal(dead?.kind, 'calls.analytics');
    assert.deepEqual(dead?.payload, { call: 'c1' });
    assert.equal(dead?.attempt, 3);
    assert.equal(dead?.error, 'boom 3');
    assert.ok(!Number.isNaN(Date.parse(dead?.deadAt ?? '')), 'deadAt is a date');
    assert.equal((await q.deadLetters('calls.analytics')).length, 1, 'still there after reading');
    assert.deepEqual(await q.deadLetters('notify.push'), []);
  });

  withQueue('JobContext.once: a retried or redelivered job does not repeat a step that succeeded', {}, async (q) => {
    const effects = { a: 0, b: 0 };
    const results: string[] = [];
    await q.consume('notify.background', async (job, ctx) => {
      const a = await ctx.once('a', async () => void effects.a++);
      // Step b fails on the first delivery: its claim is released, so the retry runs it.
      const b = await ctx.once('b', async () => {
        effects.b++;
        if (job.attempt === 1 && job.id === 'once-1') throw new Error('b failed');
      }).catch(() => 'threw');
      results.push(`${job.id}/${job.attempt}: a=${a} b=${b}`);
      if (b === 'threw') throw new Error('retry me');
    });
    await q.enqueue('notify.background', {}, { id: 'once-1' });
    await waitFor('the retry', () => results.length === 2);
    assert.deepEqual(results, ['once-1/1: a=true b=threw', 'once-1/2: a=false b=true']);
    assert.deepEqual(effects, { a: 1, b: 2 });

    // The same job enqueued twice (at-least-once publishing) is delivered twice, acted on once.
    await q.enqueueMany([
      { kind: 'notify.background', payload: {}, id: 'once-2' },
      { kind: 'notify.background', payload: {}, id: 'once-2' },
    ]);
    await waitFor('both copies', () => results.length === 4);
    const copies = results.slice(2).join(' ');
    assert.equal(copies.split('a=true').length - 1, 1, copies);
    assert.equal(copies.split('b=true').length - 1, 1, copies);
    assert.deepEqual(effects, { a: 2, b: 3 });
  });

  withQueue('close() waits for the jobs in hand and starts no new ones', { prefetch: 2 }, async (q, opened) => {
    let started = 0;
    let finished = 0;
    await q.consume('notify.push', async () => {
      started++;
      await sleep(300);
      finished++;
    });
    await q.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ kind: 'notify.push' as const, payload: { i } })));
    await waitFor('2 jobs in hand', () => started === 2);
    await q.close();
    assert.equal(finished, 2, 'close resolved after the jobs in hand finished');
    await sleep(200);
    assert.equal(started, 2, 'nothing started after close');
    await assert.rejects(() => q.enqueue('notify.push', {}), /closed/);

    if (factory.durable && opened.reopen) {
      // The 3 not started are still queued: a restarted consumer gets them.
      const again = await opened.reopen();
      let rest = 0;
      await again.consume('notify.push', async () => void rest++);
      await waitFor('the 3 remaining jobs', () => rest === 3);
    }
  });

  withQueue('JOB_PREFETCH bounds the jobs of a kind in hand at once', { prefetch: 3 }, async (q) => {
    let inHand = 0;
    let most = 0;
    let done = 0;
    await q.consume('notify.email', async () => {
      inHand++;
      most = Math.max(most, inHand);
      await sleep(40);
      inHand--;
      done++;
    });
    await q.enqueueMany(Array.from({ length: 15 }, (_, i) => ({ kind: 'notify.email' as const, payload: { i } })));
    await waitFor('15 jobs', () => done === 15);
    assert.equal(most, 3);
  });

  withQueue('a kind with a prefetch of its own (prefetchOf) has that many in hand at once, the others JOB_PREFETCH', { prefetch: 2, prefetchOf: { 'notify.push': 5 } }, async (q) => {
    const run = async (kind: 'notify.push' | 'notify.email', limit: number) => {
      // Each job waits for the test to let it end, so the jobs in hand pile up to the limit.
      const gates: (() => void)[] = [];
      let inHand = 0;
      let most = 0;
      let done = 0;
      await q.consume(kind, async () => {
        inHand++;
        most = Math.max(most, inHand);
        await new Promise<void>((r) => gates.push(r));
        inHand--;
        done++;
      });
      await q.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ kind, payload: { i } })));
      await waitFor(`${kind}: ${limit} jobs in hand`, () => inHand === limit);
      while (done < 12) {
        await waitFor(`${kind}: a job to let end`, () => gates.length > 0 || done === 12);
        gates.shift()?.();
      }
      assert.equal(most, limit);
    };
    await Promise.all([run('notify.push', 5), run('notify.email', 2)]);
  });

  if (factory.durable) {
    withQueue('a job whose enqueue resolved outlives the process that enqueued it', {}, async (q, opened) => {
      const id = await q.enqueue('notify.push', { keep: true });
      await q.close();
      const again = await opened.reopen!();
      const got: Job[] = [];
      await again.consume('notify.push', async (job) => void got.push(job));
      await waitFor('the job', () => got.length === 1);
      assert.equal(got[0]?.id, id);
      assert.deepEqual(got[0]?.payload, { keep: true });
    });
  }

  withQueue('ping answers while open', {}, async (q) => {
    await q.ping();
  });
}
