import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { CallsRepository } from '../modules/calls/calls.repository.js';
import type { WorkerDeps } from './processed-jobs.repository.js';

/**
 * `calls.analytics` {callId}: queued when a call ends and after every applied provider
 * webhook. Recomputes the call's conversation-day row of `call_stats_daily` (calls, missed,
 * seconds, distinct participants) from the call records, so a redelivered or reordered job
 * gives the same answer: no `processed_jobs` bookkeeping is needed.
 */
export function callsAnalyticsWorker(deps: WorkerDeps): JobHandler {
  const repo = new CallsRepository(deps.sql);
  return async (job) => {
    const callId = (job.payload as { callId?: unknown } | null)?.callId;
    if (typeof callId !== 'string') {
      // Malformed: retrying cannot fix it.
      deps.logger.warn({ jobId: job.id }, 'calls.analytics job without a callId: dropped');
      return;
    }
    const call = await repo.find(callId);
    if (!call) return;
    const day = call.created_at.toISOString().slice(0, 10);
    await repo.recomputeDay(call.conversation_id, day);
  };
}
