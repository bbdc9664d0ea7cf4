import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { MESSAGE_JOB_RECORD, messagePayload } from './message-job.js';
import { jobSteps, runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** `notify.push`: the visible push of a new message to each alerted member's devices (FCM, APNs, Web Push). */
export function notifyPushWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const sent = await deps.notifications.deliverAlerts(p, jobSteps(deps, job));
      deps.logger.debug({ jobId: job.id, sent }, 'alert pushes sent');
    }, MESSAGE_JOB_RECORD);
  };
}
