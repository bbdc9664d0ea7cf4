/**
 * RabbitMQ job queue (amqp-connection-manager over amqplib).
 *
 * Topology, per kind, all durable and asserted again on every (re)connection:
 * - `<prefix>.<kind>`: the work queue; messages are persistent.
 * - `<prefix>.<kind>.retry.<ms>ms`: one per retry delay, with `x-message-ttl` = that delay
 *   and dead-lettering (default exchange) back to the work queue. A failed attempt n is
 *   published to the queue of delay JOB_RETRY_DELAY·2^(n-1), so the wait lives in the broker
 *   and survives the process. All messages of such a queue share one TTL, so they expire in
 *   order at its head. The delay is in the name: changing JOB_RETRY_DELAY declares new
 *   queues instead of clashing with the arguments of the old ones (which still drain).
 * - `<prefix>.<kind>.dead`: jobs that failed JOB_MAX_ATTEMPTS times, with the last error.
 *
 * Queue type (AMQP_QUEUE_TYPE): `quorum` (the default for new deployments: replicated, Raft)
 * or `classic`. Retries, attempts and dead-lettering are the same on both, because they are
 * ours (the `x-attempt` header and the retry queues above). Quorum queues also count
 * redeliveries themselves: a job redelivered JOB_DELIVERY_LIMIT times without being settled
 * (a worker that crashes on it, again and again) is dead-lettered by the broker to the
 * `.dead` queue (`x-delivery-limit`, at-least-once dead-lettering, so nothing is dropped
 * on the way). Classic queues have no such counter: there a job that kills its worker is
 * redelivered until it is fixed or purged. The type of an existing queue cannot change;
 * declaring the other type fails startup with the broker's PRECONDITION_FAILED, naming it.
 *
 * The attempt number travels in the `x-attempt` header. Enqueues go through a confirm
 * channel with `mandatory`, and resolve on the broker's ack. Deliveries are acked manually
 * on the channel they came from, after the handler succeeded or after the retry/dead copy
 * was confirmed; if the process or the connection dies in between, the broker redelivers
 * (at-least-once; consumers drop duplicates by job id).
 *
 * Batches: the jobs of one kind in one `enqueueMany` (the outbox relay's batch: the push,
 * email and background jobs of every message it moves) travel in one message of up to
 * `batchMax` jobs, `{"batch": [envelope, …]}`, so the broker stores, confirms, delivers and
 * acks one message where it did one per job; per job that was most of the broker's CPU and
 * a good part of the worker's. A single job still travels as a bare envelope. The batch is
 * the unit of transport only: its jobs run on their own (at most `prefetchFor(kind)` of a
 * consumer at once, across all its deliveries), a failing one is retried or dead-lettered alone (a
 * copy of that job, published once every job of the batch is settled and confirmed before
 * the batch is acked), and the batch is acked once each of its jobs is done or handed on.
 * If the worker dies first, the whole batch comes back; a batch that comes back is split
 * into one message per job before any of them runs, so each job has its own delivery count
 * from then on (a job that kills its worker reaches JOB_DELIVERY_LIMIT alone), and the jobs
 * it had done are dropped as duplicates. Jobs not started when the consumer
 * stops are published back (confirmed) before the batch is acked, so a clean shutdown
 * repeats nothing. Consumers read both forms, so they must be upgraded before publishers
 * that batch (JOB_BATCH=1 keeps one message per job).
 */
import amqp from 'amqp-connection-manager';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '../../ids.js';
import type { Logger } from '../../logger.js';
import {
  JOB_KINDS,
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

const ATTEMPT_HEADER = 'x-attempt';
const ERROR_HEADER = 'x-error';
const DEAD_AT_HEADER = 'x-dead-at';
/** `deadLetters` reads at most this many messages (it holds them unacked while reading). */
const MAX_DEAD_LETTERS_READ = 1000;
/** A batch message stays under this many bytes of JSON (a job larger than this travels alone). */
const MAX_BATCH_BYTES = 256 * 1024;

export type RabbitQueueType = 'classic' | 'quorum';

export interface RabbitJobQueueOptions extends JobQueueSettings {
  url: string;
  prefix: string;
  /** Default quorum. */
  queueType?: RabbitQueueType;
  /** Quorum only: deliveries without a settle before the broker dead-letters a job. Default 20. */
  deliveryLimit?: number;
  logger: Logger;
  idempotency: IdempotencyStore;
  metrics?: JobOutcomeCounter;
  /** How long an enqueue may wait for the broker (through reconnections) before it rejects. Default 30 s. */
  publishTimeoutMs?: number;
  /** Wait between reconnection attempts. Default 1 s. */
  reconnectSeconds?: number;
  /** AMQP heartbeat: a silent dead connection is noticed after about twice this. Default 5 s. */
  heartbeatSeconds?: number;
  /** How long `open` waits for the first connection. Default 10 s. */
  connectTimeoutMs?: number;
  /** Jobs of one kind enqueued together travel in one message of up to this many (JOB_BATCH). Default 256. */
  batchMax?: number;
}

/** The message body; the attempt number is a header because retries change it. */
export interface Envelope {
  id: string;
  kind: JobKind;
  payload: unknown;
  enqueuedAt: string;
}

interface Consumer {
  kind: JobKind;
  handler: JobHandler;
  wrapper?: ChannelWrapper;
  /** The channel currently consuming and its consumer tag (unset while disconnected). */
  channel?: ConfirmChannel;
  tag?: string;
  stopped: boolean;
  /** Deliveries being handled (each may carry several jobs). */
  inHand: Set<Promise<void>>;
  /** Bounds the jobs running at once to `prefetchFor(kind)`, whatever the deliveries carry. */
  slots: Slots;
}

class UnroutableError extends Error {}

export class RabbitJobQueue implements JobQueue {
  private readonly logger: Logger;
  private readonly conn: AmqpConnectionManager;
  private publisher!: ChannelWrapper;
  private readonly consumers = new Map<JobKind, Consumer>();
  /** Message ids the broker returned as unroutable (mandatory publish, no queue bound). */
  private readonly returned = new Set<string>();
  private readonly publishing = new Set<Promise<unknown>>();
  private readonly publishTimeoutMs: number;
  private readonly batchMax: number;
  /** Channels that closed: a job of a delivery on one is not started (the broker redelivers it). */
  private readonly closedChannels = new WeakSet<Channel>();
  private closing: Promise<void> | undefined;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastForcedReconnect = 0;

  private constructor(private readonly opts: RabbitJobQueueOptions) {
    this.logger = opts.logger.child({ component: 'jobs', driver: 'rabbitmq' });
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 30_000;
    this.batchMax = Math.max(1, opts.batchMax ?? 256);
    this.conn = amqp.connect([opts.url], {
      heartbeatIntervalInSeconds: opts.heartbeatSeconds ?? 5,
      reconnectTimeInSeconds: opts.reconnectSeconds ?? 1,
    });
    this.conn.on('connect', () => this.logger.info('connected to RabbitMQ'));
    this.conn.on('disconnect', ({ err }) => {
      if (!this.closing) this.logger.warn({ err: errorMessage(err) }, 'RabbitMQ connection lost: reconnecting');
    });
    this.conn.on('connectFailed', ({ err }) => this.logger.warn({ err: errorMessage(err) }, 'RabbitMQ connection attempt failed'));
    this.conn.on('blocked', ({ reason }) => this.logger.warn({ reason }, 'RabbitMQ blocked publishing (broker resource alarm)'));
    this.conn.on('unblocked', () => this.logger.info('RabbitMQ unblocked publishing'));
  }

  /** Connects, declares the topology for every kind, and opens the publishing channel. */
  static async open(opts: RabbitJobQueueOptions): Promise<RabbitJobQueue> {
    const q = new RabbitJobQueue(opts);
    try {
      await q.conn.connect({ timeout: opts.connectTimeoutMs ?? 10_000 });
      // Declare once on a throwaway channel first: a clash with existing queues (406) then
      // fails startup with the broker's message instead of stalling every later publish.
      await q.withChannel((ch) => q.declare(ch, JOB_KINDS));
      q.publisher = q.conn.createChannel({
        name: 'jobs publisher',
        confirm: true,
        setup: (ch: ConfirmChannel) => q.setupPublisher(ch),
      });
      q.publisher.on('error', (err: Error) => q.logger.error({ err: errorMessage(err) }, 'RabbitMQ publishing channel setup failed'));
      await q.publisher.waitForConnect();
    } catch (err) {
      await q.conn.close().catch(() => undefined);
      throw err;
    }
    return q;
  }

  private workQueue(kind: JobKind): string {
    return `${this.opts.prefix}.${kind}`;
  }

  private deadQueue(kind: JobKind): string {
    return `${this.opts.prefix}.${kind}.dead`;
  }

  private retryQueue(kind: JobKind, failedAttempt: number): { name: string; delayMs: number } {
    const delayMs = Math.max(1, retryDelayMs(failedAttempt, this.opts.retryDelaySeconds));
    return { name: `${this.opts.prefix}.${kind}.retry.${delayMs}ms`, delayMs };
  }

  /** Arguments every queue of the chosen type carries. */
  private typeArguments(): Record<string, unknown> {
    return (this.opts.queueType ?? 'quorum') === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  }

  /**
   * Dead-lettering arguments towards `target`. On quorum queues dead-lettering is at-most-once
   * unless asked otherwise; at-least-once needs `reject-publish` overflow.
   */
  private deadLetterTo(target: string): Record<string, unknown> {
    const args: Record<string, unknown> = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': target };
    if ((this.opts.queueType ?? 'quorum') === 'quorum') Object.assign(args, { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' });
    return args;
  }

  private async declare(ch: Channel, kinds: readonly JobKind[]): Promise<void> {
    const quorum = (this.opts.queueType ?? 'quorum') === 'quorum';
    for (const kind of kinds) {
      await ch.assertQueue(this.workQueue(kind), {
        durable: true,
        arguments: {
          ...this.typeArguments(),
          // the broker's own redelivery count guards against a job that crashes its worker
          ...(quorum ? { 'x-delivery-limit': this.opts.deliveryLimit ?? 20, ...this.deadLetterTo(this.deadQueue(kind)) } : {}),
        },
      });
      await ch.assertQueue(this.deadQueue(kind), { durable: true, arguments: this.typeArguments() });
      for (let attempt = 1; attempt < this.opts.maxAttempts; attempt++) {
        const { name, delayMs } = this.retryQueue(kind, attempt);
        await ch.assertQueue(name, {
          durable: true,
          arguments: { ...this.typeArguments(), 'x-message-ttl': delayMs, ...this.deadLetterTo(this.workQueue(kind)) },
        });
      }
    }
  }

  /**
   * Runs `fn` on a short-lived channel of the current connection, waiting up to `waitMs`
   * for a connection that is being re-established.
   */
  private async withChannel<T>(fn: (ch: Channel) => Promise<T>, waitMs = 0): Promise<T> {
    const deadline = Date.now() + waitMs;
    while (!this.conn.connection && !this.closed && Date.now() < deadline) await sleep(50);
    const model = this.conn.connection;
    if (!model) throw new Error('RabbitMQ is not connected');
    const ch = await model.createChannel();
    // A channel error without a listener would be thrown from the socket handler.
    ch.on('error', (err: Error) => this.logger.debug({ err: errorMessage(err) }, 'short-lived channel closed by the broker'));
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Runs on every new publishing channel, before queued publishes are sent on it. */
  private async setupPublisher(ch: ConfirmChannel): Promise<void> {
    this.watchChannel(ch, 'publisher');
    ch.on('return', (msg: Message) => {
      const id: unknown = msg.properties.messageId;
      if (typeof id === 'string') this.returned.add(id);
    });
    await this.declare(ch, JOB_KINDS);
  }

  /**
   * amqp-connection-manager only makes a new channel when the connection comes back, so a
   * channel the broker closed on its own (a channel-level error) would stay dead: cycle the
   * connection to get every channel and consumer back.
   */
  private watchChannel(ch: Channel, name: string): void {
    ch.on('error', (err: Error) => {
      this.logger.error({ err: errorMessage(err), channel: name }, 'RabbitMQ closed a channel: reconnecting');
      this.forceReconnect();
    });
  }

  /** Cycles the connection, at most once per 5 s so an error that setup itself causes cannot spin. */
  private forceReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const wait = Math.max(0, this.lastForcedReconnect + 5000 - Date.now());
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.lastForcedReconnect = Date.now();
      if (!this.closing && this.conn.isConnected()) this.conn.reconnect();
    }, wait);
  }

  async enqueue<P>(kind: JobKind, payload: P, opts: { id?: string } = {}): Promise<string> {
    const [id] = await this.enqueueMany([{ kind, payload, ...(opts.id !== undefined ? { id: opts.id } : {}) }]);
    return id!;
  }

  async enqueueMany(jobs: readonly { kind: JobKind; payload: unknown; id?: string }[]): Promise<string[]> {
    if (this.closed) throw new Error('job queue is closed');
    // Validate and encode the whole batch before anything is sent.
    const envelopes = jobs.map((j): Envelope => {
      if (!isJobKind(j.kind)) throw new Error(`unknown job kind "${String(j.kind)}"`);
      return { id: j.id ?? newId(), kind: j.kind, payload: j.payload ?? null, enqueuedAt: new Date().toISOString() };
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const sends = batchesOf(envelopes, this.batchMax).map((b) =>
      this.publishConfirmed(this.workQueue(b.kind), b.content, { messageId: b.messageId, timestamp, headers: { [ATTEMPT_HEADER]: 1 } }),
    );
    const all = Promise.all(sends);
    this.track(all);
    await all;
    return envelopes.map((e) => e.id);
  }

  private track(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.publishing.add(settled);
    void settled.then(() => this.publishing.delete(settled));
  }

  /**
   * Publishes and waits for the broker's confirm. The manager holds a publish made while
   * disconnected and sends it after reconnecting; but a publish whose confirm was lost
   * with its channel is rejected ("channel closed") even though the broker may have it.
   * That one is published again (same job id: consumers drop the duplicate) until it is
   * confirmed or `publishTimeoutMs` has passed, then the enqueue fails loudly.
   */
  private async publishConfirmed(queue: string, content: Buffer, props: Options.Publish & { messageId: string }): Promise<void> {
    const deadline = Date.now() + this.publishTimeoutMs;
    for (let round = 1; ; round++) {
      try {
        await this.publisher.sendToQueue(queue, content, {
          ...props,
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          timeout: Math.max(1, deadline - Date.now()),
        });
        if (this.returned.delete(props.messageId)) throw new UnroutableError(`RabbitMQ could not route job ${props.messageId} to ${queue}: the queue is missing`);
        return;
      } catch (err) {
        if (err instanceof UnroutableError || this.closed || Date.now() >= deadline) {
          throw new Error(`enqueue to ${queue} failed: ${errorMessage(err)}`, { cause: err });
        }
        this.logger.debug({ jobId: props.messageId, round, err: errorMessage(err) }, 'publish not confirmed: publishing again');
        await sleep(Math.min(50 * round, 500));
      }
    }
  }

  async consume<P>(kind: JobKind, handler: JobHandler<P>): Promise<void> {
    if (!isJobKind(kind)) throw new Error(`unknown job kind "${String(kind)}"`);
    if (this.closing) throw new Error('job queue is closed');
    if (this.consumers.has(kind)) throw new Error(`already consuming "${kind}"`);
    const c: Consumer = { kind, handler: handler as JobHandler, stopped: false, inHand: new Set(), slots: new Slots(prefetchFor(this.opts, kind)) };
    this.consumers.set(kind, c);
    // One channel per kind, so its prefetch bounds that kind alone and an error on it stays there.
    c.wrapper = this.conn.createChannel({ name: `jobs consumer ${kind}`, confirm: true, setup: (ch: ConfirmChannel) => this.setupConsumer(c, ch) });
    c.wrapper.on('error', (err: Error) => this.logger.error({ err: errorMessage(err), kind }, 'RabbitMQ consumer setup failed'));
    await c.wrapper.waitForConnect();
  }

  /** Runs on every new channel of a consumer: declare, prefetch, consume. */
  private async setupConsumer(c: Consumer, ch: ConfirmChannel): Promise<void> {
    this.watchChannel(ch, `consumer ${c.kind}`);
    ch.on('close', () => {
      this.closedChannels.add(ch);
      if (c.channel === ch) {
        c.channel = undefined;
        c.tag = undefined;
      }
    });
    await this.declare(ch, [c.kind]);
    // Per-consumer limit (global=false): at most `prefetch` (JOB_PREFETCH) unacked
    // deliveries, whatever the kind; `slots` bounds the jobs they carry that run at once to
    // `prefetchFor(kind)`. A kind that runs more at once (JOB_PREFETCH_MESSAGE) gets them
    // from the batches it holds, without holding more of the queue: up to JOB_PREFETCH ×
    // JOB_BATCH jobs of a kind are unacked at one worker, whatever it runs at once.
    await ch.prefetch(this.opts.prefetch, false);
    if (c.stopped) return;
    const { consumerTag } = await ch.consume(
      this.workQueue(c.kind),
      (msg) => {
        if (!msg) {
          // The broker cancelled us (queue deleted): reconnecting declares it again and re-subscribes.
          this.logger.warn({ kind: c.kind }, 'RabbitMQ cancelled the consumer: reconnecting');
          this.forceReconnect();
          return;
        }
        this.onDelivery(c, ch, msg);
      },
      { noAck: false },
    );
    c.channel = ch;
    c.tag = consumerTag;
  }

  private onDelivery(c: Consumer, ch: ConfirmChannel, msg: ConsumeMessage): void {
    if (c.stopped) {
      // Arrived while cancelling: hand it back for another consumer (or the next start).
      settle(() => ch.nack(msg, false, true));
      return;
    }
    const p: Promise<void> = this.handle(c, ch, msg)
      .catch((err: unknown) => {
        // A retry, dead or hand-back copy was not confirmed. Handed back to the queue at
        // once (an unsettled delivery would hold its prefetch slot for as long as the
        // channel lives): it comes back redelivered, is split into its jobs (see handle),
        // and the ones done are dropped as duplicates.
        this.logger.warn({ kind: c.kind, err: errorMessage(err) }, 'could not settle a job: it will be redelivered');
        if (!this.closedChannels.has(ch)) settle(() => ch.nack(msg, false, true));
      })
      .finally(() => c.inHand.delete(p));
    c.inHand.add(p);
  }

  private async handle(c: Consumer, ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    let jobs: Job[];
    try {
      jobs = decode(msg, c.kind);
    } catch (err) {
      // Retrying cannot fix a body that does not parse: dead-letter it at once.
      await this.publishCopy(ch, this.deadQueue(c.kind), msg, msg.content, msg.properties.messageId as string | undefined, {
        [ERROR_HEADER]: `undecodable job: ${errorMessage(err)}`,
        [DEAD_AT_HEADER]: new Date().toISOString(),
      });
      settle(() => ch.ack(msg));
      this.logger.error({ kind: c.kind, err: errorMessage(err) }, 'undecodable job dead-lettered');
      return;
    }
    if (jobs.length > 1 && msg.fields.redelivered) {
      // A batch that comes back (its worker died, its channel closed, a copy was refused)
      // goes back to the queue as one message per job before any of them runs. Each job
      // then has its own delivery count: one that kills its worker is dead-lettered alone
      // at JOB_DELIVERY_LIMIT, instead of taking the jobs beside it to the dead queue.
      await this.handBack(c, ch, msg, jobs, 1);
      this.logger.info({ kind: c.kind, jobs: jobs.length }, 'redelivered batch split into one message per job');
      settle(() => ch.ack(msg));
      return;
    }
    const ran = await Promise.all(jobs.map((job) => this.runJob(c, ch, job)));
    // Its channel is gone: the broker redelivers the whole message by itself, and nothing
    // of it was handed on (the failed jobs' copies are published below), so each job comes
    // back once, at the attempt it had.
    if (this.closedChannels.has(ch)) return;
    // The retry or dead copies of the jobs that failed, once every job of the delivery is
    // settled, just before the ack: published as soon as a job failed, a copy would stand
    // beside the unacked batch for as long as its slowest job ran, and a redelivery in
    // that time would run the failed job again at the same attempt: two retry chains.
    // A copy that is not confirmed throws: the delivery is handed back (see onDelivery).
    await Promise.all(ran.map((r, i) => (r.outcome === 'failed' ? this.failed(ch, msg, jobs[i]!, r.error) : undefined)));
    const notStarted = jobs.filter((_, i) => ran[i]!.outcome === 'not started');
    if (notStarted.length > 0) {
      // Stopping: hand the jobs not started back to the queue, so none is repeated.
      await this.handBack(c, ch, msg, notStarted, this.batchMax);
      this.logger.info({ kind: c.kind, jobs: notStarted.length }, 'stopping: jobs not started handed back to the queue');
    }
    settle(() => ch.ack(msg));
  }

  /** Publishes `jobs` of `msg` to their work queue again, `perMessage` to a message, each at its attempt; waits for the confirms. */
  private async handBack(c: Consumer, ch: ConfirmChannel, msg: ConsumeMessage, jobs: readonly Job[], perMessage: number): Promise<void> {
    const back = batchesOf(jobs.map(envelopeOf), perMessage);
    await Promise.all(back.map((b) => this.publishCopy(ch, this.workQueue(c.kind), msg, b.content, b.messageId, {})));
  }

  /**
   * Runs one job of a delivery once a slot is free: `not started` when the consumer is
   * stopping or the delivery's channel closed meanwhile; `failed` with what the handler threw.
   */
  private async runJob(c: Consumer, ch: ConfirmChannel, job: Job): Promise<JobRun> {
    if (!(await c.slots.acquire())) return { outcome: 'not started' };
    try {
      if (this.closedChannels.has(ch)) return { outcome: 'not started' };
      try {
        await c.handler(job, createJobContext(job, this.opts.idempotency));
      } catch (err) {
        return { outcome: 'failed', error: err };
      }
      this.opts.metrics?.inc({ kind: job.kind, outcome: 'ok' });
      if (this.logger.isLevelEnabled('debug')) this.logger.debug({ jobId: job.id, kind: job.kind, attempt: job.attempt }, 'job done');
      return { outcome: 'ok' };
    } finally {
      c.slots.release();
    }
  }

  /** Publishes a failed job's retry (or, after its last attempt, dead) copy and waits for the confirm. */
  private async failed(ch: ConfirmChannel, msg: ConsumeMessage, job: Job, err: unknown): Promise<void> {
    const error = errorMessage(err);
    const log = { jobId: job.id, kind: job.kind, attempt: job.attempt, error };
    const content = Buffer.from(JSON.stringify(envelopeOf(job)));
    if (job.attempt >= this.opts.maxAttempts) {
      await this.publishCopy(ch, this.deadQueue(job.kind), msg, content, job.id, { [ATTEMPT_HEADER]: job.attempt, [ERROR_HEADER]: error, [DEAD_AT_HEADER]: new Date().toISOString() });
      this.logger.error(log, 'job failed its last attempt: dead-lettered');
      this.opts.metrics?.inc({ kind: job.kind, outcome: 'dead' });
      return;
    }
    const retry = this.retryQueue(job.kind, job.attempt);
    await this.publishCopy(ch, retry.name, msg, content, job.id, { [ATTEMPT_HEADER]: job.attempt + 1, [ERROR_HEADER]: error });
    this.logger.warn({ ...log, retryInMs: retry.delayMs }, 'job failed: will retry');
    this.opts.metrics?.inc({ kind: job.kind, outcome: 'retry' });
  }

  /**
   * Publishes `content` with the delivered message's properties and updated headers on the
   * channel `msg` came on, and waits for the confirm; only then may `msg` be acked. If that
   * channel closes first, this rejects and `msg` is redelivered.
   */
  private publishCopy(ch: ConfirmChannel, queue: string, msg: Message, content: Buffer, messageId: string | undefined, headers: Record<string, unknown>): Promise<void> {
    const p = msg.properties;
    // x-death is the broker's record of earlier dead-lettering; the copy starts its own.
    // x-delivery-count is the quorum queue's count of this delivery's redeliveries.
    const { 'x-death': _death, 'x-first-death-exchange': _fe, 'x-first-death-queue': _fq, 'x-first-death-reason': _fr, 'x-delivery-count': _dc, ...kept } = (p.headers ?? {}) as Record<string, unknown>;
    return new Promise((resolve, reject) => {
      try {
        ch.sendToQueue(
          queue,
          content,
          {
            persistent: true,
            contentType: p.contentType as string | undefined,
            messageId,
            timestamp: p.timestamp as number | undefined,
            headers: { ...kept, ...headers },
          },
          (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
        );
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /**
   * Reads the dead-letter queue of `kind` (oldest first, at most 1000; waits up to 5 s for
   * a reconnection) and leaves it as it was: the messages are fetched unacked and handed back (nack with requeue) at the end,
   * which puts them back in their places.
   */
  async deadLetters(kind: JobKind): Promise<DeadJob[]> {
    if (!isJobKind(kind)) throw new Error(`unknown job kind "${String(kind)}"`);
    return this.withChannel(async (ch) => {
      const out: DeadJob[] = [];
      try {
        for (let i = 0; i < MAX_DEAD_LETTERS_READ; i++) {
          const msg = await ch.get(this.deadQueue(kind), { noAck: false });
          if (!msg) break;
          const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
          let jobs: Job[];
          try {
            // A batch is here whole only when the broker dead-lettered it (x-delivery-limit).
            jobs = decode(msg, kind);
          } catch (err) {
            jobs = [{ id: String(msg.properties.messageId ?? ''), kind, payload: msg.content.toString('utf8'), attempt: 0, enqueuedAt: '' }];
            headers[ERROR_HEADER] ??= errorMessage(err);
          }
          for (const job of jobs) out.push({ ...job, error: String(headers[ERROR_HEADER] ?? ''), deadAt: String(headers[DEAD_AT_HEADER] ?? '') });
        }
      } finally {
        settle(() => ch.nackAll(true));
      }
      return out;
    }, 5000);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('job queue is closed');
    // A round trip on the broker, not just "we think the socket is open"; no waiting, so
    // /readyz reports an outage as it happens.
    await this.withChannel((ch) => ch.checkQueue(this.workQueue(JOB_KINDS[0])));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    // 1. Take no new deliveries: cancel each consumer (a reconnect now will not resubscribe);
    //    the jobs of deliveries in hand that have not started are handed back.
    await Promise.all(
      [...this.consumers.values()].map(async (c) => {
        c.stopped = true;
        c.slots.close();
        if (c.channel && c.tag) await c.channel.cancel(c.tag).catch(() => undefined);
      }),
    );
    // 2. Let the jobs in hand finish (they may still enqueue follow-ups), within the grace.
    const inHand = [...this.consumers.values()].flatMap((c) => [...c.inHand]);
    const all = Promise.allSettled([...inHand, ...this.publishing]).then(() => true);
    const drained = await Promise.race([all, sleep(this.opts.shutdownGraceSeconds * 1000, false, { ref: false })]);
    if (!drained) {
      const left = [...this.consumers.values()].reduce((n, c) => n + c.inHand.size, 0);
      this.logger.warn({ jobs: left }, 'shutdown grace elapsed with jobs in hand: the broker will redeliver them');
    }
    // 3. Close: an enqueue still unconfirmed now is rejected, never silently dropped.
    this.closed = true;
    await this.conn.close();
  }
}

/** How one job of a delivery went. */
type JobRun = { outcome: 'ok' } | { outcome: 'not started' } | { outcome: 'failed'; error: unknown };

/** Acks/nacks on a channel that may have closed meanwhile; then the broker redelivers by itself. */
function settle(fn: () => void): void {
  try {
    fn();
  } catch {
    // channel closed: nothing to settle any more
  }
}

/**
 * The jobs a message carries: a bare envelope, or `{"batch": [envelope, …]}`, all of `kind`,
 * with the attempt from the header. Throws when any of it is not a job of that kind.
 */
function decode(msg: Message, kind: JobKind): Job[] {
  const body = JSON.parse(msg.content.toString('utf8')) as (Partial<Envelope> & { batch?: unknown }) | null;
  const raw: unknown = (msg.properties.headers as Record<string, unknown> | undefined)?.[ATTEMPT_HEADER];
  const attempt = typeof raw === 'number' && Number.isInteger(raw) && raw >= 1 ? raw : 1;
  const list: unknown[] = body && Array.isArray(body.batch) ? body.batch : [body];
  if (list.length === 0) throw new Error('message body is an empty batch');
  return list.map((item) => {
    const e = item as Partial<Envelope> | null;
    if (!e || typeof e !== 'object' || typeof e.id !== 'string' || e.kind !== kind || typeof e.enqueuedAt !== 'string') {
      throw new Error('message body is not a job envelope');
    }
    return { id: e.id, kind, payload: e.payload ?? null, attempt, enqueuedAt: e.enqueuedAt };
  });
}

function envelopeOf(job: Job): Envelope {
  return { id: job.id, kind: job.kind, payload: job.payload, enqueuedAt: job.enqueuedAt };
}

/**
 * Groups envelopes into messages: by kind, in order, up to `max` jobs and MAX_BATCH_BYTES
 * each. A group of one is a bare envelope with the job's id as message id.
 */
export function batchesOf(envelopes: readonly Envelope[], max: number): { kind: JobKind; messageId: string; content: Buffer }[] {
  const out: { kind: JobKind; messageId: string; content: Buffer }[] = [];
  const open = new Map<JobKind, { ids: string[]; parts: string[]; bytes: number }>();
  const flush = (kind: JobKind) => {
    const g = open.get(kind);
    if (!g) return;
    open.delete(kind);
    const single = g.parts.length === 1;
    out.push({ kind, messageId: single ? g.ids[0]! : newId(), content: Buffer.from(single ? g.parts[0]! : `{"batch":[${g.parts.join(',')}]}`) });
  };
  for (const e of envelopes) {
    const json = JSON.stringify(e);
    const g = open.get(e.kind);
    if (g && (g.parts.length >= max || g.bytes + json.length > MAX_BATCH_BYTES)) flush(e.kind);
    const cur = open.get(e.kind) ?? { ids: [], parts: [], bytes: 0 };
    cur.ids.push(e.id);
    cur.parts.push(json);
    cur.bytes += json.length + 1;
    open.set(e.kind, cur);
  }
  for (const kind of [...open.keys()]) flush(kind);
  return out;
}

/**
 * At most `n` jobs running at once: `acquire` resolves true when one may start, false once
 * `close` was called (the consumer is stopping: the job is not started).
 */
class Slots {
  private free: number;
  private readonly waiting: ((ok: boolean) => void)[] = [];
  private closed = false;

  constructor(n: number) {
    this.free = Math.max(1, n);
  }

  acquire(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.closed ? undefined : this.waiting.shift();
    if (next) next(true);
    else this.free++;
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(false);
  }
}
