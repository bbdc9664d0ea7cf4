import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `calls.analytics`: call statistics from the provider webhook, for analytics.
 * INCOMPLETE (calls area, not notifications): it only records the job once in
 * `processed_jobs`; the calls module brings the real consumer.
 */
export function callsAnalyticsWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    await runJobOnce(deps, job, async () => {
      deps.logger.info({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job recorded');
    });
  };
}
