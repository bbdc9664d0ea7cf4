import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { MESSAGE_JOB_RECORD, messagePayload } from './message-job.js';
import { jobSteps, runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** `notify.background`: a data-only/silent push that makes offline mobile apps sync (members who get no alert). */
export function notifyBackgroundWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const r = await deps.notifications.deliverBackground(p, jobSteps(deps, job));
      deps.logger.debug({ jobId: job.id, devices: r.devices, sent: r.sent }, 'background pushes sent');
      // Every device it addressed is a step recorded on its own; with none, nothing to record.
      return r.devices > 0;
    }, MESSAGE_JOB_RECORD);
  };
}
