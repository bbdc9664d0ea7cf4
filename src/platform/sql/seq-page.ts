/**
 * One page of rows ordered by `seq` around a cursor, as history and thread pages are read:
 * `afterSeq` pages forward from it (oldest first), otherwise the newest page, or the one
 * just before `beforeSeq`. One row more than `limit` is read to know whether there is more.
 */
export interface SeqWindow {
  beforeSeq?: number;
  afterSeq?: number;
  limit: number;
}

/**
 * The WHERE clause, ORDER BY direction and parameters of a seq page over rows whose
 * `keyColumn` is `key`: `$1` is the key and `$2` the LIMIT (limit + 1), the bounds follow.
 */
export function seqPageQuery(keyColumn: string, key: string, w: SeqWindow): { where: string; order: 'ASC' | 'DESC'; params: unknown[] } {
  const params: unknown[] = [key, w.limit + 1];
  let where = `${keyColumn} = $1`;
  if (w.afterSeq !== undefined) {
    params.push(w.afterSeq);
    where += ` AND seq > $${params.length}`;
  }
  if (w.beforeSeq !== undefined) {
    params.push(w.beforeSeq);
    where += ` AND seq < $${params.length}`;
  }
  return { where, order: w.afterSeq !== undefined ? 'ASC' : 'DESC', params };
}

/** The page in ascending seq order, and whether more rows lie beyond it. */
export function seqPageResult<T>(rows: readonly T[], w: SeqWindow, order: 'ASC' | 'DESC'): { page: T[]; hasMore: boolean } {
  const page = rows.slice(0, w.limit);
  if (order === 'DESC') page.reverse();
  return { page, hasMore: rows.length > w.limit };
}
