import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { firstDelivery, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `mentions.detect`: stores the mentions of a message and refreshes unread-mention counts.
 * For now it records the job once (`processed_jobs`); the real work comes with its worker.
 */
export function mentionsDetectWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    if (!(await firstDelivery(deps, job))) return;
    deps.logger.info({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job recorded');
  };
}
