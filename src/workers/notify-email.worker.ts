import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { MESSAGE_JOB_RECORD, messagePayload } from './message-job.js';
import { runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/**
 * `notify.email`: arms the missed-messages digest of each alerted member. The mail itself
 * is sent later by the digest scan (startDigestScan), one per user batching everything
 * still unread, not one per message.
 */
export function notifyEmailWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    await runJobOnce(deps, job, async () => {
      const n = await deps.notifications.scheduleEmails(p);
      deps.logger.debug({ jobId: job.id, scheduled: n }, 'digests scheduled');
      return n > 0;
    }, MESSAGE_JOB_RECORD);
  };
}
