import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `mentions.detect`: stores the mentions of a message and refreshes unread-mention counts.
 * For now it records the job once (`processed_jobs`); the real work comes with its worker.
 */
export function mentionsDetectWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    await runJobOnce(deps, job, async () => {
      deps.logger.info({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job recorded');
    });
  };
}
