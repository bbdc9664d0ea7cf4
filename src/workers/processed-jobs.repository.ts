import type { Logger } from '../logger.js';
import type { Job, JobOutcomeCounter } from '../platform/jobs/jobs.port.js';
import type { SqlExecutor } from '../platform/sql/sql.port.js';

/** What every worker gets. */
export interface WorkerDeps {
  processed: ProcessedJobsRepository;
  /** For workers that write their results to SQL. */
  sql: SqlExecutor;
  logger: Logger;
  metrics?: { jobsProcessed: JobOutcomeCounter };
}

/** The `processed_jobs` table: which jobs a consumer has acted on. */
export class ProcessedJobsRepository {
  constructor(private readonly sql: SqlExecutor) {}

  /**
   * Records `job` and resolves true only for the first delivery to get here, the one that
   * should act. A redelivery (lost ack, duplicate enqueue, retry after a later failure)
   * finds the row and resolves false.
   */
  async recordFirst(job: Job): Promise<boolean> {
    const r = await this.sql.query(
      'INSERT INTO processed_jobs (id, kind, payload, processed_at) VALUES ($1, $2, $3, now()) ON CONFLICT (id) DO NOTHING RETURNING id',
      [job.id, job.kind, JSON.stringify(job.payload)],
    );
    return r.rows.length === 1;
  }
}

/** Records the job; for a redelivered one, logs and counts the duplicate and resolves false (do nothing). */
export async function firstDelivery(deps: WorkerDeps, job: Job): Promise<boolean> {
  if (await deps.processed.recordFirst(job)) return true;
  deps.logger.debug({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job already processed: redelivery dropped');
  deps.metrics?.jobsProcessed.inc({ kind: job.kind, outcome: 'duplicate' });
  return false;
}
