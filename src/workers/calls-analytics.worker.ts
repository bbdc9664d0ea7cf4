import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `calls.analytics`: call statistics from the provider webhook, for analytics.
 * For now it records the job once (`processed_jobs`); the real work comes with its worker.
 */
export function callsAnalyticsWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    await runJobOnce(deps, job, async () => {
      deps.logger.info({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job recorded');
    });
  };
}
