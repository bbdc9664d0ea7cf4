import type { SqlDatabase } from '../../platform/sql/index.js';
import { isRetryableTxError } from '../../platform/sql/sql.port.js';
import type { JobKind } from '../../platform/jobs/jobs.port.js';
import { SendRepository, type SendOutcome, type SendRow } from './send.repository.js';

interface Pending {
  row: SendRow;
  kinds: readonly JobKind[];
  resolve: (o: SendOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for SQL-store sends. With fewer than `maxInFlight` sends running, a send
 * runs at once, alone (one statement, one round trip: no delay at low load). Sends that
 * arrive while `maxInFlight` are running wait and go together, up to `maxBatch`, in one
 * transaction (one commit, one WAL flush for all): so the delay is bounded by one batch's
 * duration and the size by `maxBatch`, and throughput grows with load.
 *
 * Each send keeps its own outcome: the statements are built not to fail on the expected
 * refusals (non-member, repeated clientMsgId: they write nothing and answer `absent`), and
 * if one fails anyway (a concurrent copy on the unique index, a lost connection) nothing of
 * the batch is committed and every send of it runs again alone, with its own result.
 */
export class SendBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: SqlDatabase,
    private readonly opts: { maxBatch: number; maxInFlight: number },
  ) {}

  /** Stores one send (see SendRepository.storeWithMessage), batched with concurrent ones. */
  submit(row: SendRow, kinds: readonly JobKind[]): Promise<SendOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, kinds, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    if (batch.length > 1) {
      let outcomes: SendOutcome[] | undefined;
      try {
        // One lock order for every transaction: all the senders' member rows first (sorted),
        // then each conversation's counter in conversation order. A single send takes its
        // member row, then its counter: the same order, so batches and singles never deadlock.
        const order = batch.map((p, i) => ({ p, i })).sort((a, b) => cmp(a.p.row.conversationId, b.p.row.conversationId) || cmp(a.p.row.senderId, b.p.row.senderId));
        outcomes = await this.db.transaction(async (tx) => {
          const repo = new SendRepository(tx);
          await repo.lockMembers(order.map(({ p }) => ({ conversationId: p.row.conversationId, userId: p.row.senderId })));
          const out: SendOutcome[] = new Array(batch.length);
          for (const { p, i } of order) out[i] = await repo.storeWithMessage(p.row, p.kinds, { inBatch: true });
          return out;
        });
      } catch {
        // Rolled back whole: each send on its own below.
      }
      if (outcomes) {
        batch.forEach((p, i) => p.resolve(outcomes[i]!));
        return;
      }
    }
    const repo = new SendRepository(this.db);
    await Promise.all(batch.map((p) => storeAlone(repo, p).then(p.resolve, p.reject)));
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** One send in its own statement; a deadlock or serialization failure (rolled back whole) is retried. */
async function storeAlone(repo: SendRepository, p: Pending): Promise<SendOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await repo.storeWithMessage(p.row, p.kinds);
    } catch (err) {
      if (attempt >= 3 || !isRetryableTxError(err)) throw err;
    }
  }
}
