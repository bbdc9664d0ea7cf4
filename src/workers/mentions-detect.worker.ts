import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { messagePayload } from './message-job.js';
import { runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** `mentions.detect`: stores the message's mention notifications (PostgreSQL) and drops the mentioned users' cached mentions. */
export function mentionsDetectWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const n = await deps.mentions.record(p);
      deps.logger.debug({ jobId: job.id, mentioned: n }, 'mentions recorded');
    });
  };
}
