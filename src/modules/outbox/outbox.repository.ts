import type { SqlExecutor } from '../../platform/sql/index.js';
import { isJobKind, type JobKind } from '../../platform/jobs/jobs.port.js';

export interface OutboxRow {
  id: string;
  kind: string;
  payload: unknown;
}

/**
 * The outbox row of a send: ONE row per message (id `message.sent:${messageId}`), its
 * payload the message's reference plus `jobs`, the kinds of its jobs. The relay expands it
 * into one job per kind, each with the id `${kind}:${messageId}` (so consumers drop a
 * duplicate) and the reference as payload. One row instead of one per job: every outbox
 * row is written three times (insert, claim, relayed) and pruned, and a send has four or
 * five jobs. Rows of a single job (kind = a job kind, id = the job id) are relayed as they are.
 */
export const SEND_OUTBOX_KIND = 'message.sent';

/** The jobs an outbox row stands for, or null when this version of the code does not know one of them. */
export function jobsOfRow(row: OutboxRow): { id: string; kind: JobKind; payload: unknown }[] | null {
  if (isJobKind(row.kind)) return [{ id: row.id, kind: row.kind, payload: row.payload }];
  if (row.kind !== SEND_OUTBOX_KIND) return null;
  const { jobs, ...ref } = (row.payload ?? {}) as { jobs?: unknown; messageId?: unknown };
  if (!Array.isArray(jobs) || typeof ref.messageId !== 'string' || !jobs.every((k) => typeof k === 'string' && isJobKind(k))) return null;
  return (jobs as JobKind[]).map((kind) => ({ id: `${kind}:${ref.messageId as string}`, kind, payload: ref }));
}

/** The `outbox` table: jobs committed with the change that caused them, waiting to be relayed. */
export class OutboxRepository {
  constructor(private readonly db: SqlExecutor) {}

  /**
   * Takes up to `limit` rows nobody holds, oldest first, for `leaseSeconds`. SKIP LOCKED
   * lets several processes take disjoint batches at once; the lease lets a batch whose
   * relay died be taken again once it runs out.
   */
  async claim(limit: number, leaseSeconds: number): Promise<OutboxRow[]> {
    const { rows } = await this.db.query<OutboxRow & { created_at: Date }>(
      `UPDATE outbox SET claimed_until = now() + make_interval(secs => $2), attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM outbox
         WHERE relayed_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
         ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING id, kind, payload, created_at`,
      [limit, leaseSeconds],
    );
    rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
    return rows.map((r) => ({ id: r.id, kind: r.kind, payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload }));
  }

  /** The queue confirmed these: they are never relayed again. */
  async markRelayed(ids: readonly string[]): Promise<void> {
    await this.db.query('UPDATE outbox SET relayed_at = now(), claimed_until = NULL WHERE id = ANY($1::text[])', [ids]);
  }

  /** Gives a batch back at once (the enqueue failed), instead of waiting for its lease to end. */
  async release(ids: readonly string[]): Promise<void> {
    await this.db.query('UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1::text[]) AND relayed_at IS NULL', [ids]);
  }

  /** Deletes rows relayed more than `olderThanSeconds` ago; returns how many. */
  async prune(olderThanSeconds: number): Promise<number> {
    const r = await this.db.query('DELETE FROM outbox WHERE relayed_at < now() - make_interval(secs => $1)', [olderThanSeconds]);
    return r.rowCount;
  }

  /** Rows not relayed yet (metrics, tests). */
  async pending(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL');
    return Number(rows[0]!.n);
  }
}
