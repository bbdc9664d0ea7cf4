import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { messagePayload } from './message-job.js';
import { runJobOnce, runStepOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** `notify.background`: a data-only/silent push that makes offline mobile apps sync (members who get no alert). */
export function notifyBackgroundWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const sent = await deps.notifications.deliverBackground(p, (step, fn) => runStepOnce(deps, job, step, fn));
      deps.logger.debug({ jobId: job.id, sent }, 'background pushes sent');
    });
  };
}
