/**
 * The job port: durable background work (RabbitMQ in the full stack, an in-process queue
 * with the same semantics in the embedded profile).
 *
 * Semantics every adapter keeps (the contract suite in `jobs.contract.ts` checks them):
 * - `enqueue` resolves only once the job is safely accepted (RabbitMQ: publisher confirm);
 *   a job whose enqueue resolved is never lost (the in-process queue can only promise this
 *   while its process lives). When it rejects, some jobs of the batch may still have been
 *   accepted: enqueue again with the same ids and consumers drop the duplicates.
 * - Handlers are called at least once; a handler that throws is retried after a growing
 *   delay (JOB_RETRY_DELAY, doubling) up to JOB_MAX_ATTEMPTS attempts, then the job goes to
 *   the dead-letter queue of its kind.
 * - Each job has a unique `id`; handlers must be idempotent (use `JobContext.once`, or
 *   record the id in the same transaction as the effect).
 * - At most JOB_PREFETCH jobs of one kind are in hand at once per consumer
 *   (JOB_PREFETCH_MESSAGE for MESSAGE_JOB_KINDS).
 * - `close()` stops taking new jobs and waits for the ones in hand (up to SHUTDOWN_GRACE).
 */
export const JOB_KINDS = [
  'notify.push',
  'notify.email',
  'notify.background',
  'mentions.detect',
  'calls.analytics',
  'notify.call',
  'media.thumbnail',
  'links.preview',
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** The jobs every stored message gets (design flow 1), queued through the outbox by the send. */
export const MESSAGE_JOB_KINDS: readonly JobKind[] = ['notify.push', 'notify.email', 'notify.background'];

export function isJobKind(kind: string): kind is JobKind {
  return (JOB_KINDS as readonly string[]).includes(kind);
}

export interface Job<P = unknown> {
  id: string;
  kind: JobKind;
  payload: P;
  /** 1 on the first delivery; a redelivery after a lost ack keeps the number. */
  attempt: number;
  enqueuedAt: string;
}

/** A job that used up its attempts, as kept in the dead-letter queue of its kind. */
export interface DeadJob<P = unknown> extends Job<P> {
  /** Message of the last attempt's error. */
  error: string;
  deadAt: string;
}

export interface JobContext {
  /**
   * Runs `fn` unless an earlier delivery of this job already ran it for `key`, so a retry
   * or a redelivery does not repeat a side effect that already happened. The key is
   * claimed before `fn` runs (two concurrent deliveries cannot both run it) and released
   * if `fn` throws (the retry runs it again); if the process dies inside `fn` the claim
   * stays, so that step is done at most once. Resolves true when `fn` ran now.
   */
  once(key: string, fn: () => Promise<void>): Promise<boolean>;
}

export type JobHandler<P = unknown> = (job: Job<P>, ctx: JobContext) => Promise<void>;

export interface JobQueue {
  enqueue<P>(kind: JobKind, payload: P, opts?: { id?: string }): Promise<string>;
  enqueueMany(jobs: readonly { kind: JobKind; payload: unknown; id?: string }[]): Promise<string[]>;
  /** Starts consuming `kind` with `handler` (worker role only; one handler per kind). */
  consume<P>(kind: JobKind, handler: JobHandler<P>): Promise<void>;
  /**
   * Jobs of `kind` that exhausted their attempts, oldest first (for operators and tests).
   * Reading leaves them in the dead-letter queue.
   */
  deadLetters(kind: JobKind): Promise<DeadJob[]>;
  ping(): Promise<void>;
  /** Stops consuming and waits for the jobs in hand, then closes connections. */
  close(): Promise<void>;
}

/** The knobs both adapters take (from JOB_* and SHUTDOWN_GRACE). */
export interface JobQueueSettings {
  /** Jobs of one kind a consumer runs at once (RabbitMQ: also its prefetch, in messages, for every kind). */
  prefetch: number;
  /** Kinds that run another number at once than `prefetch`. */
  prefetchOf?: Partial<Record<JobKind, number>>;
  maxAttempts: number;
  /** Delay before the first retry, in seconds; each later retry waits twice as long. */
  retryDelaySeconds: number;
  /** How long `close()` waits for jobs in hand, in seconds. */
  shutdownGraceSeconds: number;
}

/** Where `JobContext.once` keeps its claims: in-process, or a table shared by every worker process. */
export interface IdempotencyStore {
  /** Claims `key` atomically; false when it was already claimed. */
  claim(key: string, kind: JobKind): Promise<boolean>;
  release(key: string): Promise<void>;
}

/** Counts handler outcomes (`parley_jobs_processed_total`). */
export interface JobOutcomeCounter {
  inc(labels: { kind: string; outcome: string }): void;
}

/** Milliseconds to wait before attempt `failedAttempt + 1`: the base delay, doubled per retry. */
export function retryDelayMs(failedAttempt: number, retryDelaySeconds: number): number {
  return Math.round(retryDelaySeconds * 1000 * 2 ** (failedAttempt - 1));
}

/** The context handed to a handler: `once` keys are scoped to the job id. */
export function createJobContext(job: Job, store: IdempotencyStore): JobContext {
  return {
    async once(key, fn) {
      const claimKey = `${job.id}#${key}`;
      if (!(await store.claim(claimKey, job.kind))) return false;
      try {
        await fn();
      } catch (err) {
        await store.release(claimKey);
        throw err;
      }
      return true;
    },
  };
}

/** A short message for logs and dead letters, whatever was thrown. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.length > 1000 ? `${msg.slice(0, 1000)}…` : msg;
}

/** What `settings` lets a consumer of `kind` run at once. */
export function prefetchFor(settings: JobQueueSettings, kind: JobKind): number {
  return settings.prefetchOf?.[kind] ?? settings.prefetch;
}
