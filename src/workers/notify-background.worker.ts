import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { MESSAGE_JOB_RECORD, messagePayload } from './message-job.js';
import { jobSteps, runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** `notify.background`: a data-only/silent push that makes offline mobile apps sync (members who get no alert). */
export function notifyBackgroundWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const sent = await deps.notifications.deliverBackground(p, jobSteps(deps, job));
      deps.logger.debug({ jobId: job.id, sent }, 'background pushes sent');
    }, MESSAGE_JOB_RECORD);
  };
}
