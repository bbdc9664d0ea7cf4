/**
 * Change scans: how sync reads "what changed since a position" from a store without
 * trusting clocks. Every stored change carries a change number (in SQL: the id of the
 * transaction that wrote it, `pg_current_xact_id()`), and a position is a snapshot of
 * that sequence: which numbers were already visible when it was taken. A change is new to
 * a reader iff its number is not visible in the reader's snapshot, so a transaction that
 * began before a sync and committed after it is still new to the next sync (it was in
 * progress, listed in `xip`), however late it commits.
 */

/**
 * A snapshot of a change sequence, as PostgreSQL's `pg_snapshot`: numbers below `xmin`
 * are visible (seen), numbers at or above `xmax` are not, and in between all are visible
 * except those in `xip` (in progress when it was taken). Sorted, distinct, `1 <= xmin <= xmax`.
 */
export interface ChangeSnapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  readonly xip: readonly bigint[];
}

/**
 * Where a scan starts: changes not visible in `snapshot`, and (when set) changes stamped
 * at or after `since`. `since` is the time-based lower bound of a cursor issued before
 * change numbers existed (served once, see sync.cursor.ts) or of a cursor handed out on a
 * live connection (see `LIVE_SLACK_MS` in sync.service.ts). At least one of the two is set.
 */
export interface ChangeFrom {
  readonly snapshot?: ChangeSnapshot;
  readonly since?: Date;
}

/**
 * One page of a change scan. The first page is read under the store's current snapshot,
 * which the store returns; further pages of the same scan pass it back as `until` (only
 * changes visible in it, so the set being paged never grows behind the keyset) and the last
 * change delivered as `after` (keyset on (change number, id)). Once a scan has no more
 * pages, its `until` is the next scan's `from`.
 */
export interface ChangeScan {
  readonly from: ChangeFrom;
  readonly until?: ChangeSnapshot;
  readonly after?: { readonly change: bigint; readonly id: string };
}

/**
 * True when an item created by change `createdChange` at `createdAt` is new to a scan from
 * `from`: created after what its snapshot had seen, or (time-based) at or after its `since`.
 */
export function createdSince(from: ChangeFrom, createdChange: bigint, createdAt: Date): boolean {
  return (from.snapshot !== undefined && !visibleIn(createdChange, from.snapshot)) || (from.since !== undefined && createdAt >= from.since);
}

/** True when change number `n` is visible (already seen) in `s`. */
export function visibleIn(n: bigint, s: ChangeSnapshot): boolean {
  if (n < s.xmin) return true;
  if (n >= s.xmax) return false;
  return !s.xip.includes(n);
}
