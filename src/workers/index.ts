/**
 * The worker role: one consumer per job kind, each in its own file, plus the periodic
 * work of the role (missed-messages digests that are due, pruning `processed_jobs`).
 * `media.thumbnail` (media-thumbnail.worker.ts) needs the media service, so the
 * composition root registers it.
 */
import type { Logger } from '../logger.js';
import type { JobHandler, JobKind, JobOutcomeCounter, JobQueue } from '../platform/jobs/jobs.port.js';
import type { SqlExecutor } from '../platform/sql/sql.port.js';
import type { MentionsService } from '../modules/notifications/mentions.service.js';
import type { NotificationsService } from '../modules/notifications/notifications.service.js';
import { callsAnalyticsWorker } from './calls-analytics.worker.js';
import { mentionsDetectWorker } from './mentions-detect.worker.js';
import { notifyBackgroundWorker } from './notify-background.worker.js';
import { notifyCallWorker } from './notify-call.worker.js';
import { notifyEmailWorker } from './notify-email.worker.js';
import { notifyPushWorker } from './notify-push.worker.js';
import { ProcessedJobsRepository, type WorkerDeps } from './processed-jobs.repository.js';

export interface StartWorkersOptions {
  jobs: JobQueue;
  sql: SqlExecutor;
  logger: Logger;
  notifications: NotificationsService;
  mentions: MentionsService;
  /** PROCESSED_JOBS_RETENTION, seconds. */
  retentionSeconds: number;
  /** EMAIL_DIGEST_SCAN_INTERVAL, seconds. */
  digestScanSeconds: number;
  metrics?: { jobsProcessed: JobOutcomeCounter };
}

const WORKERS: readonly [JobKind, (deps: WorkerDeps) => JobHandler][] = [
  ['notify.push', notifyPushWorker],
  ['notify.email', notifyEmailWorker],
  ['notify.background', notifyBackgroundWorker],
  ['mentions.detect', mentionsDetectWorker],
  ['calls.analytics', callsAnalyticsWorker],
  ['notify.call', notifyCallWorker],
];

const PRUNE_EVERY_MS = 3600_000;

/** Registers a consumer for each worker kind and starts the periodic work; returns its stopper (consumers stop with `jobs.close()`). */
export async function startWorkers(opts: StartWorkersOptions): Promise<{ stop(): Promise<void> }> {
  const logger = opts.logger.child({ component: 'workers' });
  const deps: WorkerDeps = {
    processed: new ProcessedJobsRepository(opts.sql),
    sql: opts.sql,
    logger,
    notifications: opts.notifications,
    mentions: opts.mentions,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  };
  for (const [kind, worker] of WORKERS) await opts.jobs.consume(kind, worker(deps));

  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const every = (ms: number, name: string, fn: () => Promise<unknown>) => {
    const t = setInterval(() => {
      if (stopped) return;
      running = running.then(fn).catch((err: unknown) => logger.warn({ err }, `${name} failed`));
    }, ms);
    t.unref();
    return t;
  };
  const prune = async () => {
    const n = await deps.processed.pruneOlderThan(opts.retentionSeconds);
    if (n) logger.info({ pruned: n }, 'processed_jobs pruned');
  };
  const timers = [every(PRUNE_EVERY_MS, 'processed_jobs prune', prune), every(Math.max(50, opts.digestScanSeconds * 1000), 'digest scan', () => opts.notifications.sendDueDigests())];
  // Once at start too, so a worker that restarts often still prunes.
  running = running.then(prune).catch((err: unknown) => logger.warn({ err }, 'processed_jobs prune failed'));
  return {
    async stop() {
      stopped = true;
      timers.forEach(clearInterval);
      await running;
    },
  };
}
