/**
 * The worker role: one consumer per job kind, each in its own file. `media.thumbnail`
 * (media-thumbnail.worker.ts) needs the media service, so the composition root registers it.
 */
import type { Logger } from '../logger.js';
import type { JobHandler, JobKind, JobOutcomeCounter, JobQueue } from '../platform/jobs/jobs.port.js';
import type { SqlExecutor } from '../platform/sql/sql.port.js';
import { callsAnalyticsWorker } from './calls-analytics.worker.js';
import { mentionsDetectWorker } from './mentions-detect.worker.js';
import { notifyBackgroundWorker } from './notify-background.worker.js';
import { notifyEmailWorker } from './notify-email.worker.js';
import { notifyPushWorker } from './notify-push.worker.js';
import { ProcessedJobsRepository, type WorkerDeps } from './processed-jobs.repository.js';

export interface StartWorkersOptions {
  jobs: JobQueue;
  sql: SqlExecutor;
  logger: Logger;
  metrics?: { jobsProcessed: JobOutcomeCounter };
}

const WORKERS: readonly [JobKind, (deps: WorkerDeps) => JobHandler][] = [
  ['notify.push', notifyPushWorker],
  ['notify.email', notifyEmailWorker],
  ['notify.background', notifyBackgroundWorker],
  ['mentions.detect', mentionsDetectWorker],
  ['calls.analytics', callsAnalyticsWorker],
];

/** Registers a consumer for each worker kind; stopping is `jobs.close()`. */
export async function startWorkers(opts: StartWorkersOptions): Promise<void> {
  const deps: WorkerDeps = {
    processed: new ProcessedJobsRepository(opts.sql),
    logger: opts.logger.child({ component: 'workers' }),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  };
  for (const [kind, worker] of WORKERS) await opts.jobs.consume(kind, worker(deps));
}
