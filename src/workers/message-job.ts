import type { Job } from '../platform/jobs/jobs.port.js';
import type { MessageJobPayload } from '../modules/notifications/notifications.service.js';
import type { WorkerDeps } from './processed-jobs.repository.js';

// A stored message's notification jobs (`notify.push`, `notify.email`, `notify.background`)
// keep no record of their own in processed_jobs, and a redelivered one decides again:
// - device pushes are steps recorded one by one, so no device gets the same push twice;
// - digests are armed by an upsert, and a digest never re-sends what it emailed.
// What a redelivery (a lost ack: rare) can do that the first delivery did not: push a
// device registered since, or a member who went offline since, for that message (they have
// not read it), and arm a digest once more (it mails only what is unread and not yet
// emailed). In exchange PostgreSQL no longer inserts three rows per message, nor checks
// them: about a fifth of its CPU per message in a busy group (bench/README.md, 2026-12-07).

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
