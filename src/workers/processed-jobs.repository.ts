import type { Logger } from '../logger.js';
import type { Job, JobOutcomeCounter } from '../platform/jobs/jobs.port.js';
import type { SqlExecutor } from '../platform/sql/sql.port.js';
import type { MentionsService } from '../modules/notifications/mentions.service.js';
import type { NotificationsService } from '../modules/notifications/notifications.service.js';

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
  constructor(private readonly sql: SqlExecutor) {}

  /** True when `id` (a job id, or `<job id>#<step>`) was completed before. */
  async isDone(id: string): Promise<boolean> {
    const r = await this.sql.query('SELECT 1 FROM processed_jobs WHERE id = $1', [id]);
    return r.rows.length === 1;
  }

  /** Records that `id` completed (a second record of the same id is a no-op). */
  async markDone(id: string, job: Job, withPayload: boolean): Promise<void> {
    await this.sql.query('INSERT INTO processed_jobs (id, kind, payload, processed_at) VALUES ($1, $2, $3, now()) ON CONFLICT (id) DO NOTHING', [
      id,
      job.kind,
      withPayload ? JSON.stringify(job.payload) : null,
    ]);
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
  await deps.processed.markDone(job.id, job, true);
  return true;
}

/**
 * One step of a job (e.g. one device's push), run unless an earlier attempt of the same
 * job completed it; recorded only after it succeeded. A retry after a partial failure
 * repeats only the steps that did not finish.
 */
export async function runStepOnce(deps: IdempotencyDeps, job: Job, step: string, work: () => Promise<void>): Promise<boolean> {
  const id = `${job.id}#${step}`;
  if (await deps.processed.isDone(id)) return false;
  await work();
  await deps.processed.markDone(id, job, false);
  return true;
}
