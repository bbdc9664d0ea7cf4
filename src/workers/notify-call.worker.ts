import type { JobHandler } from '../platform/jobs/jobs.port.js';
import { CallsRepository } from '../modules/calls/calls.repository.js';
import { UsersRepository } from '../modules/users/users.repository.js';
import { jobSteps, runJobOnce, type WorkerDeps } from './processed-jobs.repository.js';

/** What the calls module queues when a call starts and some callees have no live connection. */
export interface CallRingJob {
  callId: string;
  /** The callees who were offline at the start. */
  userIds: string[];
  /** How long the push is worth delivering: the ring timeout. */
  ttlSeconds: number;
}

function isRingJob(p: unknown): p is CallRingJob {
  const j = p as Partial<CallRingJob> | null;
  return !!j && typeof j.callId === 'string' && Array.isArray(j.userIds) && j.userIds.every((u) => typeof u === 'string') && typeof j.ttlSeconds === 'number';
}

/**
 * `notify.call`: a visible push "Ann — incoming audio call" to the devices of offline
 * callees, while the call still rings for them (answered, declined or ended: nothing is sent).
 */
export function notifyCallWorker(deps: WorkerDeps): JobHandler {
  const calls = new CallsRepository(deps.sql);
  const users = new UsersRepository(deps.sql);
  return async (job) => {
    if (!isRingJob(job.payload)) {
      deps.logger.warn({ jobId: job.id }, 'notify.call job with a malformed payload: dropped');
      return;
    }
    const p = job.payload;
    await runJobOnce(deps, job, async () => {
      const call = await calls.find(p.callId);
      if (call?.status !== 'ringing') return;
      const ringing = new Set((await calls.participants([call.id])).filter((x) => x.state === 'invited').map((x) => x.user_id));
      const to = p.userIds.filter((u) => ringing.has(u));
      const [caller] = await users.findByIds([call.created_by]);
      const r = await deps.notifications.deliverCallRing(
        to,
        {
          kind: 'alert',
          title: caller?.display_name ?? 'Someone',
          body: `Incoming ${call.kind} call`,
          data: { type: 'call', callId: call.id, conversationId: call.conversation_id, kind: call.kind },
          collapseKey: `call:${call.id}`,
          ttlSeconds: Math.max(1, Math.round(p.ttlSeconds)),
        },
        jobSteps(deps, job),
      );
      deps.logger.debug({ jobId: job.id, devices: r.devices, sent: r.sent }, 'call ring pushes sent');
    });
  };
}
