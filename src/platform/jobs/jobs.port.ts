/**
 * The job port: durable background work (RabbitMQ in the full stack, an in-process queue
 * with the same semantics in the embedded profile).
 *
 * Semantics every adapter keeps:
 * - `enqueue` resolves only once the job is safely accepted (RabbitMQ: publisher confirm);
 *   a job whose enqueue resolved is never lost.
 * - Handlers are called at least once; a handler that throws is retried after a growing
 *   delay (JOB_RETRY_DELAY, doubling) up to JOB_MAX_ATTEMPTS attempts, then the job goes to
 *   the dead-letter queue of its kind.
 * - Each job has a unique `id`; handlers must be idempotent (use `JobContext.once`).
 * - `stop()` stops taking new jobs and waits for the ones in hand.
 */
export const JOB_KINDS = [
  'notify.push',
  'notify.email',
  'notify.background',
  'mentions.detect',
  'calls.analytics',
  'media.thumbnail',
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface Job<P = unknown> {
  id: string;
  kind: JobKind;
  payload: P;
  /** 1 on the first delivery. */
  attempt: number;
  enqueuedAt: string;
}

export type JobHandler<P = unknown> = (job: Job<P>) => Promise<void>;

export interface JobQueue {
  enqueue<P>(kind: JobKind, payload: P, opts?: { id?: string }): Promise<string>;
  enqueueMany(jobs: readonly { kind: JobKind; payload: unknown; id?: string }[]): Promise<string[]>;
  /** Starts consuming `kind` with `handler` (worker role only). */
  consume<P>(kind: JobKind, handler: JobHandler<P>): Promise<void>;
  /** Jobs of `kind` that exhausted their attempts (for operators and tests). */
  deadLetters(kind: JobKind): Promise<Job[]>;
  ping(): Promise<void>;
  /** Stops consuming and waits for the jobs in hand, then closes connections. */
  close(): Promise<void>;
}
