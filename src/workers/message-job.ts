import type { Job } from '../platform/jobs/jobs.port.js';
import type { MessageJobPayload } from '../modules/notifications/notifications.service.js';
import type { WorkerDeps } from './processed-jobs.repository.js';

/**
 * A stored message's notification jobs (`notify.push`, `notify.email`, `notify.background`)
 * keep no record of their own in processed_jobs: what they do is safe to do again (device
 * pushes are steps recorded one by one, digests are armed by an upsert), and a redelivery
 * is rare, while recording three rows per message, and checking them, was a third of
 * PostgreSQL's work per message in a busy group. A redelivered one decides again.
 */

/**
 * The payload the send path queues for a stored message, checked: a malformed one can
 * never succeed, so it is logged and dropped instead of retried into the dead letters.
 */
export function messagePayload(deps: WorkerDeps, job: Job): MessageJobPayload | null {
  const p = job.payload as Partial<MessageJobPayload> | null;
  if (p && typeof p.messageId === 'string' && typeof p.conversationId === 'string' && typeof p.senderId === 'string' && Number.isSafeInteger(p.seq)) {
    return { messageId: p.messageId, conversationId: p.conversationId, seq: p.seq!, senderId: p.senderId };
  }
  deps.logger.error({ jobId: job.id, kind: job.kind }, 'job payload is not {messageId, conversationId, seq, senderId}: dropped');
  deps.metrics?.jobsProcessed.inc({ kind: job.kind, outcome: 'invalid' });
  return null;
}
