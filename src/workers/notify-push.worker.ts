import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { messagePayload } from './message-job.js';
import { jobSteps, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `notify.push`: the visible push of a new message to each alerted member's devices (FCM,
 * APNs, Web Push). No record of the job itself: each device's push is a step recorded on its
 * own (jobSteps), so a retry or a redelivery decides again and pushes only the devices that
 * have not had it (see message-job.ts).
 */
export function notifyPushWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    const r = await deps.notifications.deliverAlerts(p, jobSteps(deps, job));
    deps.logger.debug({ jobId: job.id, devices: r.devices, sent: r.sent }, 'alert pushes sent');
  };
}
