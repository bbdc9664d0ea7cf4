import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { messagePayload } from './message-job.js';
import type { WorkerDeps } from './processed-jobs.repository.js';

/**
 * `notify.email`: arms the missed-messages digest of each alerted member. The mail itself
 * is sent later by the digest scan (startDigestScan), one per user batching everything
 * still unread, not one per message. Arming is an upsert and a digest never repeats what it
 * already emailed (its watermark), so a redelivery simply arms again: nothing is recorded.
 */
export function notifyEmailWorker(deps: WorkerDeps): JobHandler {
  return async (job) => {
    const p = messagePayload(deps, job);
    if (!p) return;
    const n = await deps.notifications.scheduleEmails(p);
    deps.logger.debug({ jobId: job.id, scheduled: n }, 'digests scheduled');
  };
}
