/**
 * The SQL port. PostgreSQL (`pg`) and PGlite (Postgres compiled to WASM) speak the same
 * dialect, so both adapters run the same migrations and the same queries; the contract
 * suite in `sql.contract.ts` holds them to that.
 */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface SqlExecutor {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Where reads that tolerate replication lag go (older history pages, search): a read
   * replica when DATABASE_REPLICA_URL is set, else this database itself. While the replica
   * is unreachable its queries fall back to the primary. Never for a read that must see a
   * write just made (the newest page, gap fills, anything inside a transaction).
   */
  readonly lagTolerant: SqlExecutor;
  /**
   * Runs `fn` in one transaction on one connection: committed when it resolves, rolled
   * back when it throws. Nested calls are not supported.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** True when `err` is a unique-constraint violation (SQLSTATE 23505), from either adapter. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  if (!e || e.code !== '23505') return false;
  return constraint === undefined || e.constraint === constraint;
}

/** True when `err` is a serialization failure or deadlock that is safe to retry. */
export function isRetryableTxError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '40001' || code === '40P01';
}
