import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { messagePayload } from './message-job.js';
import { jobSteps, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `notify.background`: a data-only/silent push that makes offline mobile apps sync (members
 * who get no alert). Like `notify.push`, only its device steps are recorded.
 */
export function notifyBackgroundWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    const r = await deps.notifications.deliverBackground(p, jobSteps(deps, job));
    deps.logger.debug({ jobId: job.id, devices: r.devices, sent: r.sent }, 'background pushes sent');
  };
}
