import type { ChangeScan, ChangeSnapshot } from '../changes.js';
import type { SqlExecutor } from './sql.port.js';

/** `s` as a `pg_snapshot` literal (`xmin:xmax:xip,...`). */
function snapshotText(s: ChangeSnapshot): string {
  return `${s.xmin}:${s.xmax}:${s.xip.join(',')}`;
}

/** A `pg_snapshot` as PostgreSQL prints it. */
function parseSnapshotText(text: string): ChangeSnapshot {
  const [xmin, xmax, xip] = text.split(':');
  return { xmin: BigInt(xmin!), xmax: BigInt(xmax!), xip: xip ? xip.split(',').map((x) => BigInt(x)) : [] };
}

/** The columns of a table a change scan reads: its `xid8` change column, its time stamp and its key. */
export interface ChangeColumns {
  /** `xid8`, `pg_current_xact_id()` of the transaction that last wrote the row (0 for rows older than the column). */
  xid: string;
  /** The row's time stamp, for the time-based part of a scan (`ChangeFrom.since`). */
  at: string;
  id: string;
  /** The SQL type of `id`, for the keyset parameter. */
  idType: 'text' | 'bigint';
}

/**
 * A change scan over one table (see src/platform/changes.ts), in ONE statement that also
 * returns the snapshot it read under (`pg_current_snapshot()` is the statement's snapshot),
 * so the rows and the snapshot agree exactly: a row is returned iff its xid is visible in
 * that snapshot and not in `from`. `select` is the column list, `where` the caller's own
 * condition (its parameters first in `params`). Rows come in (xid, id) order, each with its
 * xid as `change` (text); an empty result still yields the snapshot.
 *
 * `xid >= from.xmin` is implied by "not visible in from" and keeps the scan on an index
 * range; rows older than the xid column (xid 0) are visible in every snapshot.
 */
export async function scanChanges<R>(
  db: SqlExecutor,
  q: { table: string; cols: ChangeColumns; select: string; where: string; params: unknown[]; scan: ChangeScan; limit: number },
): Promise<{ rows: (R & { change: string })[]; snapshot: ChangeSnapshot }> {
  const { cols, scan } = q;
  const params = [...q.params];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const from: string[] = [];
  if (scan.from.snapshot) {
    from.push(`(${cols.xid} >= ${p(String(scan.from.snapshot.xmin))}::xid8 AND NOT pg_visible_in_snapshot(${cols.xid}, ${p(snapshotText(scan.from.snapshot))}::pg_snapshot))`);
  }
  if (scan.from.since) from.push(`${cols.at} >= ${p(scan.from.since)}::timestamptz`);
  const conds = [`(${q.where})`, `(${from.join(' OR ')})`];
  if (scan.until) conds.push(`pg_visible_in_snapshot(${cols.xid}, ${p(snapshotText(scan.until))}::pg_snapshot)`);
  if (scan.after) conds.push(`(${cols.xid}, ${cols.id}) > (${p(String(scan.after.change))}::xid8, ${p(scan.after.id)}::${cols.idType})`);
  const limit = p(q.limit);
  const { rows } = await db.query<R & { change: string | null; snapshot: string }>(
    `SELECT pg_current_snapshot()::text AS snapshot, r.* FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (
       SELECT ${q.select}, ${cols.xid}::text AS change, ${cols.xid} AS change_order, ${cols.id} AS id_order FROM ${q.table}
       WHERE ${conds.join(' AND ')}
       ORDER BY ${cols.xid}, ${cols.id} LIMIT ${limit}
     ) AS r ON true
     ORDER BY r.change_order, r.id_order`,
    params,
  );
  const snapshot = parseSnapshotText(rows[0]!.snapshot);
  // No match: one row of nulls beside the snapshot.
  const found = rows.filter((r): r is typeof r & { change: string } => r.change !== null);
  return { rows: found, snapshot };
}

/** The current snapshot alone: a position that has seen every committed change. */
export async function currentSnapshot(db: SqlExecutor): Promise<ChangeSnapshot> {
  const { rows } = await db.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s');
  return parseSnapshotText(rows[0]!.s);
}
