import type { Logger } from '../../logger.js';
import type { JobQueue } from '../../platform/jobs/jobs.port.js';
import { jobsOfRow, type OutboxRepository, type OutboxRow } from './outbox.repository.js';

export interface OutboxRelayOptions {
  repo: OutboxRepository;
  jobs: JobQueue;
  logger: Logger;
  /** Poll interval in seconds: how soon rows written by another process (or left by a dead one) move. */
  pollSeconds: number;
  /** Rows per batch. */
  batchSize?: number;
  /** How long a taken batch is held before another relay may take it (longer than an enqueue can take). */
  leaseSeconds?: number;
  /** Relayed rows are kept this long (so a repaired send's rows are recognised), then pruned. */
  keepSeconds?: number;
  /**
   * After a wake, how long to let more commits gather before taking a batch (default 20 ms).
   * Without it every send is a batch of its own (two statements: claim, mark relayed) as
   * soon as sends come one after another; with it the relay costs two statements per
   * `lingerMs` under load. Jobs are notifications and background work: 20 ms is nothing
   * to them. A full batch (a backlog) is followed at once.
   */
  lingerMs?: number;
}

/** Backoff while the queue refuses: 100 ms doubling to 10 s. */
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Moves committed outbox rows to the job queue, by job id, at least once: a row is marked
 * relayed only after the queue confirmed it, so a relay dying in between relays it again
 * (same id; consumers drop the duplicate). Every process may run one; they take disjoint
 * batches (`FOR UPDATE SKIP LOCKED`). It runs at once when this process commits a send
 * (`wake`), every `pollSeconds` otherwise, and backs off while the queue is unavailable.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly leaseSeconds: number;
  private readonly keepSeconds: number;
  private readonly lingerMs: number;
  private running: Promise<void> | undefined;
  private stopped = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private lastPrune = 0;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.batchSize = opts.batchSize ?? 256;
    this.leaseSeconds = opts.leaseSeconds ?? 120;
    this.keepSeconds = opts.keepSeconds ?? 86_400;
    this.lingerMs = opts.lingerMs ?? 20;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = this.loop();
  }

  /** Something was committed: relay now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops after the batch in hand (its rows are marked or released first). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.running;
  }

  /** Relays one batch; resolves how many rows moved (rejects when the queue refused them). */
  async relayOnce(): Promise<number> {
    const rows = await this.opts.repo.claim(this.batchSize, this.leaseSeconds);
    if (rows.length === 0) return 0;
    const known: { row: OutboxRow; jobs: NonNullable<ReturnType<typeof jobsOfRow>> }[] = [];
    const unknown: string[] = [];
    for (const row of rows) {
      const jobs = jobsOfRow(row);
      if (jobs) known.push({ row, jobs });
      else unknown.push(row.id);
    }
    if (unknown.length) {
      // Written by a newer version of the code: leave them (held by the lease) for a process that knows them.
      this.opts.logger.warn({ ids: unknown }, 'outbox rows of an unknown job kind skipped');
    }
    try {
      await this.opts.jobs.enqueueMany(known.flatMap((r) => r.jobs));
    } catch (err) {
      await this.opts.repo.release(known.map((r) => r.row.id)).catch(() => undefined);
      throw err;
    }
    await this.opts.repo.markRelayed(known.map((r) => r.row.id));
    return known.length;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.woken = false;
      let moved = 0;
      try {
        moved = await this.relayOnce();
        failures = 0;
        if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
          this.lastPrune = Date.now();
          await this.opts.repo.prune(this.keepSeconds);
        }
      } catch (err) {
        failures += 1;
        this.opts.logger.warn({ err, failures }, 'outbox relay: could not move jobs to the queue; backing off');
      }
      if (this.stopped) break;
      if (failures > 0) {
        // Wakes do not shorten a backoff: the queue is what is down.
        await this.sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1)), false);
      } else if (moved < this.batchSize) {
        if (!this.woken) await this.sleep(this.opts.pollSeconds * 1000, true);
        // Woken by a commit (not by the poll timer): let the commits right behind it gather.
        if (this.woken && this.lingerMs > 0 && !this.stopped) await this.sleep(this.lingerMs, false);
      }
    }
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = () => {
        if (wakeable || this.stopped) done();
      };
    });
  }
}
