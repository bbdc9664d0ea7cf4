import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { firstDelivery, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `calls.analytics`: call statistics from the provider webhook, for analytics.
 * For now it records the job once (`processed_jobs`); the real work comes with its worker.
 */
export function callsAnalyticsWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    if (!(await firstDelivery(deps, job))) return;
    deps.logger.info({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job recorded');
  };
}
