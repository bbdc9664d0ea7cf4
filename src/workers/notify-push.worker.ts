import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { messagePayload } from './message-job.js';
import { runJobOnce, runStepOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** `notify.push`: the visible push of a new message to each alerted member's devices (FCM, APNs, Web Push). */
export function notifyPushWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const sent = await deps.notifications.deliverAlerts(p, (step, fn) => runStepOnce(deps, job, step, fn));
      deps.logger.debug({ jobId: job.id, sent }, 'alert pushes sent');
    });
  };
}
