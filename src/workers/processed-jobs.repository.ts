import type { Logger } from '../logger.js';
import type { Job, JobOutcomeCounter } from '../platform/jobs/jobs.port.js';
import { TickBatcher } from '../platform/batch/tick-batcher.js';
import type { SqlExecutor } from '../platform/sql/sql.port.js';
import type { MentionsService } from '../modules/notifications/mentions.service.js';
import type { NotificationsService, StepRunner } from '../modules/notifications/notifications.service.js';

/** What the idempotency helpers need. */
export type IdempotencyDeps = Pick<WorkerDeps, 'processed' | 'logger' | 'metrics'>;

/** What every worker gets. */
export interface WorkerDeps {
  processed: ProcessedJobsRepository;
  /** For workers that write their results to SQL. */
  sql: SqlExecutor;
  logger: Logger;
  notifications: NotificationsService;
  mentions: MentionsService;
  metrics?: { jobsProcessed: JobOutcomeCounter };
}

/**
 * The `processed_jobs` table: which jobs (and which steps of a job) a consumer has
 * completed. A row is written only AFTER the work succeeded, never claimed before it: a
 * handler that throws leaves no row, so the queue's retry runs it again. The price is
 * that a process dying between the effect and the row repeats the effect on redelivery
 * (at least once); effects are chosen so that a repeat is harmless (pushes collapse per
 * conversation, digests advance a watermark, mention rows upsert).
 */
export class ProcessedJobsRepository {
  /**
   * The check and the record of every job run in one turn of the event loop go to the
   * database together (jobs arrive in batches): one statement each per batch instead of
   * one per job.
   */
  private readonly checks: TickBatcher<string, boolean>;
  private readonly records: TickBatcher<{ id: string; kind: string; payload: string }, void>;

  constructor(private readonly sql: SqlExecutor) {
    this.checks = new TickBatcher(async (ids) => {
      const done = await this.doneAmong(ids);
      return ids.map((id) => done.has(id));
    });
    this.records = new TickBatcher<{ id: string; kind: string; payload: string }, void>(async (rows) => {
      await this.sql.query(
        `INSERT INTO processed_jobs (id, kind, payload, processed_at)
         SELECT id, kind, payload, now() FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS t(id, kind, payload)
         ON CONFLICT (id) DO NOTHING`,
        [rows.map((r) => r.id), rows.map((r) => r.kind), rows.map((r) => r.payload)],
      );
      return rows.map(() => undefined);
    });
  }

  /** True when `id` (a job id, or `<job id>#<step>`) was completed before. */
  isDone(id: string): Promise<boolean> {
    return this.checks.add(id);
  }

  /** Records that `id` completed (a second record of the same id is a no-op). */
  markDone(id: string, job: Job): Promise<void> {
    return this.records.add({ id, kind: job.kind, payload: JSON.stringify(job.payload) });
  }

  /** Which of `ids` were completed before. */
  async doneAmong(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const r = await this.sql.query<{ id: string }>('SELECT id FROM processed_jobs WHERE id = ANY($1::text[])', [ids]);
    return new Set(r.rows.map((x) => x.id));
  }

  /** Records completed steps in one statement. */
  async markStepsDone(ids: readonly string[], job: Job): Promise<void> {
    if (ids.length === 0) return;
    await this.sql.query('INSERT INTO processed_jobs (id, kind, payload, processed_at) SELECT u, $2, NULL, now() FROM unnest($1::text[]) AS u ON CONFLICT (id) DO NOTHING', [ids, job.kind]);
  }

  /** Deletes rows older than `ageSeconds`; a redelivery older than that is no longer recognised. Returns how many. */
  async pruneOlderThan(ageSeconds: number): Promise<number> {
    const r = await this.sql.query(`DELETE FROM processed_jobs WHERE processed_at < now() - make_interval(secs => $1)`, [ageSeconds]);
    return r.rowCount;
  }
}

/**
 * Runs `work` for `job` unless an earlier delivery completed it, then records completion.
 * A failure propagates (the queue retries) and records nothing. Resolves false for a
 * duplicate (counted as `duplicate`).
 */
export async function runJobOnce(deps: IdempotencyDeps, job: Job, work: () => Promise<void>): Promise<boolean> {
  if (await deps.processed.isDone(job.id)) {
    deps.logger.debug({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job already processed: redelivery dropped');
    deps.metrics?.jobsProcessed.inc({ kind: job.kind, outcome: 'duplicate' });
    return false;
  }
  await work();
  await deps.processed.markDone(job.id, job);
  return true;
}

/**
 * Runs the steps of one job (e.g. one push per device), so that a retry after a partial
 * failure repeats only the steps that did not finish: the steps an earlier attempt
 * completed are read in one query, the others run concurrently, and the ones that
 * succeeded are recorded in one insert, even when others failed (the first failure is
 * then rethrown, and the queue retries the job). A process that dies mid-attempt records
 * nothing for it, so its redelivery repeats those steps (at least once; pushes collapse
 * per conversation on the device).
 */
export function jobSteps(deps: IdempotencyDeps, job: Job): StepRunner {
  return async (names, work) => {
    const ids = names.map((n) => `${job.id}#${n}`);
    const done = await deps.processed.doneAmong(ids);
    const todo = names.filter((_, i) => !done.has(ids[i]!));
    const results = await Promise.allSettled(todo.map((n) => work(n)));
    await deps.processed.markStepsDone(
      todo.filter((_, i) => results[i]!.status === 'fulfilled').map((n) => `${job.id}#${n}`),
      job,
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
}
