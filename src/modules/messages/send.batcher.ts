import type { SqlDatabase } from '../../platform/sql/index.js';
import { isRetryableTxError } from '../../platform/sql/sql.port.js';
import type { JobKind } from '../../platform/jobs/jobs.port.js';
import { SendRepository, type SendItem, type SendOutcome, type SendRow } from './send.repository.js';

interface Pending extends SendItem {
  resolve: (o: SendOutcome) => void;
  reject: (err: unknown) => void;
  /** (sender, clientMsgId): see `take`. */
  key: string;
  /** (sender, conversation): see `take`. */
  stream: string;
}

/**
 * Group commit for SQL-store sends. With fewer than `maxInFlight` statements running, a
 * send runs at once, alone (one statement, one round trip: no delay at low load), unless
 * an earlier send of its stream is in a running statement (see `take`). Sends
 * that arrive while `maxInFlight` are running wait and go together, up to `maxBatch`, in
 * one statement (SendRepository.storeMany: one round trip, one commit and WAL flush for
 * all): so the delay is bounded by one statement's duration and the size by `maxBatch`,
 * and throughput grows with load.
 *
 * Each send keeps its own outcome: the statement is built not to fail on the expected
 * refusals (non-member, blocked, repeated clientMsgId: they write nothing and answer
 * `absent`), and if it fails anyway (a concurrent copy on the unique index, a lost
 * connection) nothing of the batch is committed and it runs again in halves, down to
 * single sends, each with its own result.
 */
export class SendBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  /** (sender, clientMsgId) of every send in a running statement. */
  private readonly running = new Set<string>();
  /** (sender, conversation) of every send in a running statement, with how many. */
  private readonly runningStreams = new Map<string, number>();
  /** (sender, conversation) of every queued send, with how many. */
  private readonly queuedStreams = new Map<string, number>();

  constructor(
    private readonly db: SqlDatabase,
    private readonly opts: { maxBatch: number; maxInFlight: number },
  ) {}

  /** Stores one send (see SendRepository.storeMany), batched with concurrent ones. */
  submit(row: SendRow, kinds: readonly JobKind[]): Promise<SendOutcome> {
    return new Promise((resolve, reject) => {
      const p: Pending = { row, kinds, resolve, reject, key: `${row.senderId}\u0000${row.clientMsgId}`, stream: `${row.senderId}\u0000${row.conversationId}` };
      // After a pump either `maxInFlight` statements run or every queued send is held back
      // (see `take`), and only a statement's end changes that (it pumps). So a new send
      // that is held back too needs no pump: a connection pipelining a burst into a stream
      // with a running statement (the common case under load) would otherwise rescan the
      // whole queue for every send of the burst.
      const waits = this.inFlight >= this.opts.maxInFlight || this.running.has(p.key) || this.runningStreams.has(p.stream) || this.queuedStreams.has(p.stream);
      this.queue.push(p);
      bump(this.queuedStreams, p.stream, 1);
      if (!waits) this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return; // all that waits repeats a running send
      this.inFlight += 1;
      for (const p of batch) {
        this.running.add(p.key);
        bump(this.runningStreams, p.stream, 1);
      }
      void this.run(batch).finally(() => {
        for (const p of batch) {
          this.running.delete(p.key);
          bump(this.runningStreams, p.stream, -1);
        }
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /**
   * The next batch: up to `maxBatch` sends in order of arrival, but never one with the
   * sender and clientMsgId of another in the batch or in a running statement (a retry
   * racing its original): both would pass the gate (neither sees the other's uncommitted
   * row) and the later would fail its statement on the unique index, sending its whole
   * batch the slow way. It waits until the other committed; then the gate answers it as a
   * repeat.
   *
   * One sender's sends to one conversation (a stream) are stored in the order they were
   * submitted: seqs follow the order within a statement, but two statements running at
   * once may commit in either order. So a stream with a send in a running statement waits
   * for it, and once one of a stream's sends is held back, so are its later ones. A
   * connection that pipelines its sends (gateway/ws/handlers.ts) relies on this.
   */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const held: Pending[] = [];
    const keys = new Set<string>();
    const heldStreams = new Set<string>();
    let i = 0;
    for (; i < this.queue.length && batch.length < this.opts.maxBatch; i++) {
      const p = this.queue[i]!;
      if (keys.has(p.key) || this.running.has(p.key) || this.runningStreams.has(p.stream) || heldStreams.has(p.stream)) {
        held.push(p);
        heldStreams.add(p.stream);
      } else {
        keys.add(p.key);
        batch.push(p);
        bump(this.queuedStreams, p.stream, -1);
      }
    }
    if (batch.length > 0) this.queue.splice(0, i, ...held);
    return batch;
  }

  /**
   * Stores a batch in one statement. If it fails (rolled back whole: a copy committed by
   * another process, a deadlock, a lost connection), its halves run again one after the
   * other, down to single sends: one statement at a time (the pool is not flooded with a
   * batch's worth of them), a bad send found in a few steps, and one sender's sends still
   * stored in the order they came.
   */
  private async run(batch: Pending[]): Promise<void> {
    const repo = new SendRepository(this.db);
    if (batch.length === 1) {
      const p = batch[0]!;
      await storeAlone(repo, p).then(p.resolve, p.reject);
      return;
    }
    let outcomes: SendOutcome[];
    try {
      outcomes = await repo.storeMany(batch);
    } catch {
      const half = Math.ceil(batch.length / 2);
      await this.run(batch.slice(0, half));
      await this.run(batch.slice(half));
      return;
    }
    batch.forEach((p, i) => p.resolve(outcomes[i]!));
  }
}

/** One send in its own statement; a deadlock or serialization failure (rolled back whole) is retried. */
async function storeAlone(repo: SendRepository, p: Pending): Promise<SendOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await repo.storeMany([p]))[0]!;
    } catch (err) {
      if (attempt >= 3 || !isRetryableTxError(err)) throw err;
    }
  }
}

/** Adds `by` to a count, dropping it at zero. */
function bump(counts: Map<string, number>, k: string, by: number): void {
  const n = (counts.get(k) ?? 0) + by;
  if (n === 0) counts.delete(k);
  else counts.set(k, n);
}
