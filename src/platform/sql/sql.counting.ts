import type { QueryResult, SqlDatabase, SqlExecutor } from './sql.port.js';

/** One statement the counting wrapper saw (BEGIN/COMMIT of a transaction included). */
export interface CountedStatement {
  text: string;
  inTransaction: boolean;
}

/**
 * A SqlDatabase that records every statement (each one a round trip to PostgreSQL; a
 * transaction adds its BEGIN and COMMIT) before passing it on. Used by tests and the
 * bench to count the work of one operation without timing it.
 */
export class CountingSqlDatabase implements SqlDatabase {
  readonly statements: CountedStatement[] = [];
  constructor(private readonly inner: SqlDatabase) {}

  get kind(): SqlDatabase['kind'] {
    return this.inner.kind;
  }

  /** Reads sent to the replica (or the primary, without one) are counted like the others. */
  get lagTolerant(): SqlExecutor {
    const reader = this.inner.lagTolerant;
    return {
      query: <R>(text: string, params?: readonly unknown[]) => {
        this.statements.push({ text, inTransaction: false });
        return reader.query<R>(text, params);
      },
      exec: (script: string) => {
        this.statements.push({ text: script, inTransaction: false });
        return reader.exec(script);
      },
    };
  }

  /** Forgets what was counted so far. */
  reset(): void {
    this.statements.length = 0;
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    this.statements.push({ text, inTransaction: false });
    return this.inner.query<T>(text, params);
  }

  async exec(script: string): Promise<void> {
    this.statements.push({ text: script, inTransaction: false });
    return this.inner.exec(script);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.statements.push({ text: 'BEGIN', inTransaction: true });
    try {
      return await this.inner.transaction((tx) =>
        fn({
          query: <R>(text: string, params?: readonly unknown[]) => {
            this.statements.push({ text, inTransaction: true });
            return tx.query<R>(text, params);
          },
          exec: (script: string) => {
            this.statements.push({ text: script, inTransaction: true });
            return tx.exec(script);
          },
        }),
      );
    } finally {
      this.statements.push({ text: 'COMMIT/ROLLBACK', inTransaction: true });
    }
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
