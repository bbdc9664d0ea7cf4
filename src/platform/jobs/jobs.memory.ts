/**
 * In-process job queue for the embedded profile: the same semantics as the RabbitMQ
 * adapter (at-least-once, retries with a doubling delay, dead letters, bounded
 * concurrency per kind, draining close) without a broker. Jobs live in memory, so the ones
 * not yet done when the process exits are gone; that is the price of "no setup".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '../../ids.js';
import type { Logger } from '../../logger.js';
import {
  createJobContext,
  errorMessage,
  isJobKind,
  prefetchFor,
  retryDelayMs,
  type DeadJob,
  type IdempotencyStore,
  type Job,
  type JobHandler,
  type JobKind,
  type JobOutcomeCounter,
  type JobQueue,
  type JobQueueSettings,
} from './jobs.port.js';

/** Dead letters kept per kind; older ones are dropped (and logged) past this. */
const MAX_DEAD_PER_KIND = 10_000;

/** A job as stored: the payload stays serialized so every delivery gets a fresh copy, as from a broker. */
interface Entry {
  id: string;
  kind: JobKind;
  payloadJson: string;
  attempt: number;
  enqueuedAt: string;
}

interface KindState {
  ready: Entry[];
  handler?: JobHandler;
  running: number;
}

/** `once` claims in a Map: enough for one process (the embedded profile, tests). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly claimed = new Set<string>();

  async claim(key: string): Promise<boolean> {
    if (this.claimed.has(key)) return false;
    this.claimed.add(key);
    return true;
  }

  async release(key: string): Promise<void> {
    this.claimed.delete(key);
  }
}

export interface MemoryJobQueueOptions extends JobQueueSettings {
  logger: Logger;
  idempotency?: IdempotencyStore;
  metrics?: JobOutcomeCounter;
}

export class MemoryJobQueue implements JobQueue {
  private readonly kinds = new Map<JobKind, KindState>();
  private readonly dead = new Map<JobKind, DeadJob[]>();
  /** Retries waiting for their delay. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inHand = new Set<Promise<void>>();
  private readonly logger: Logger;
  private readonly idempotency: IdempotencyStore;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: MemoryJobQueueOptions) {
    this.logger = opts.logger.child({ component: 'jobs', driver: 'memory' });
    this.idempotency = opts.idempotency ?? new MemoryIdempotencyStore();
  }

  async enqueue<P>(kind: JobKind, payload: P, opts: { id?: string } = {}): Promise<string> {
    const [id] = await this.enqueueMany([{ kind, payload, ...(opts.id !== undefined ? { id: opts.id } : {}) }]);
    return id!;
  }

  async enqueueMany(jobs: readonly { kind: JobKind; payload: unknown; id?: string }[]): Promise<string[]> {
    // Jobs taken now would never run: the consumers are stopping and memory goes with the process.
    if (this.closing) throw new Error('job queue is closed');
    // Validate and serialize the whole batch first, so a bad job rejects it before any is queued.
    const entries = jobs.map((j): Entry => {
      if (!isJobKind(j.kind)) throw new Error(`unknown job kind "${String(j.kind)}"`);
      return { id: j.id ?? newId(), kind: j.kind, payloadJson: JSON.stringify(j.payload ?? null), attempt: 1, enqueuedAt: new Date().toISOString() };
    });
    for (const e of entries) this.state(e.kind).ready.push(e);
    // Handlers start on a later turn, as deliveries from a broker would, never inside enqueue.
    for (const kind of new Set(entries.map((e) => e.kind))) setImmediate(() => this.pump(kind));
    return entries.map((e) => e.id);
  }

  async consume<P>(kind: JobKind, handler: JobHandler<P>): Promise<void> {
    if (!isJobKind(kind)) throw new Error(`unknown job kind "${String(kind)}"`);
    if (this.closing) throw new Error('job queue is closed');
    const s = this.state(kind);
    if (s.handler) throw new Error(`already consuming "${kind}"`);
    s.handler = handler as JobHandler;
    setImmediate(() => this.pump(kind));
  }

  async deadLetters(kind: JobKind): Promise<DeadJob[]> {
    return (this.dead.get(kind) ?? []).map((d) => ({ ...d }));
  }

  async ping(): Promise<void> {
    if (this.closing) throw new Error('job queue is closed');
  }

  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    const waiting = this.timers.size + [...this.kinds.values()].reduce((n, s) => n + s.ready.length, 0);
    this.timers.clear();
    if (waiting > 0) this.logger.warn({ jobs: waiting }, 'in-process queue closing: jobs not yet started are dropped');
    const graceMs = this.opts.shutdownGraceSeconds * 1000;
    const drained = await Promise.race([Promise.allSettled([...this.inHand]).then(() => true), sleep(graceMs, false, { ref: false })]);
    if (!drained) this.logger.warn({ jobs: this.inHand.size }, 'shutdown grace elapsed with jobs still in hand');
  }

  private state(kind: JobKind): KindState {
    let s = this.kinds.get(kind);
    if (!s) this.kinds.set(kind, (s = { ready: [], running: 0 }));
    return s;
  }

  /** Starts ready jobs of `kind` while fewer than `prefetchFor(kind)` are in hand. */
  private pump(kind: JobKind): void {
    const s = this.state(kind);
    const handler = s.handler;
    if (!handler) return;
    while (!this.closing && s.running < prefetchFor(this.opts, kind) && s.ready.length > 0) {
      const entry = s.ready.shift()!;
      s.running++;
      const p: Promise<void> = this.run(handler, entry).finally(() => {
        s.running--;
        this.inHand.delete(p);
        this.pump(kind);
      });
      this.inHand.add(p);
    }
  }

  private async run(handler: JobHandler, e: Entry): Promise<void> {
    const job: Job = { id: e.id, kind: e.kind, payload: JSON.parse(e.payloadJson) as unknown, attempt: e.attempt, enqueuedAt: e.enqueuedAt };
    try {
      await handler(job, createJobContext(job, this.idempotency));
      this.opts.metrics?.inc({ kind: e.kind, outcome: 'ok' });
      if (this.logger.isLevelEnabled('debug')) this.logger.debug({ jobId: e.id, kind: e.kind, attempt: e.attempt }, 'job done');
    } catch (err) {
      this.failed(e, err);
    }
  }

  private failed(e: Entry, err: unknown): void {
    const error = errorMessage(err);
    if (e.attempt >= this.opts.maxAttempts) {
      this.logger.error({ jobId: e.id, kind: e.kind, attempt: e.attempt, error }, 'job failed its last attempt: dead-lettered');
      this.opts.metrics?.inc({ kind: e.kind, outcome: 'dead' });
      let list = this.dead.get(e.kind);
      if (!list) this.dead.set(e.kind, (list = []));
      list.push({ id: e.id, kind: e.kind, payload: JSON.parse(e.payloadJson) as unknown, attempt: e.attempt, enqueuedAt: e.enqueuedAt, error, deadAt: new Date().toISOString() });
      if (list.length > MAX_DEAD_PER_KIND) {
        const dropped = list.shift()!;
        this.logger.warn({ jobId: dropped.id, kind: e.kind }, 'dead-letter list full: oldest dropped');
      }
      return;
    }
    if (this.closing) {
      // A retry timer would only hold the process up: the job could not run any more.
      this.logger.warn({ jobId: e.id, kind: e.kind, attempt: e.attempt, error }, 'job failed while the in-process queue closes: dropped');
      return;
    }
    const delay = retryDelayMs(e.attempt, this.opts.retryDelaySeconds);
    this.logger.warn({ jobId: e.id, kind: e.kind, attempt: e.attempt, retryInMs: delay, error }, 'job failed: will retry');
    this.opts.metrics?.inc({ kind: e.kind, outcome: 'retry' });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.state(e.kind).ready.push({ ...e, attempt: e.attempt + 1 });
      this.pump(e.kind);
    }, delay);
    this.timers.add(timer);
  }
}
