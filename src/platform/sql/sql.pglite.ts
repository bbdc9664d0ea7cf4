import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { QueryResult, SqlDatabase, SqlExecutor } from './sql.port.js';

/**
 * PGlite adapter: Postgres in WASM, in-process, one connection. PGlite serializes
 * queries itself and holds other queries back while a transaction runs, so the same
 * SQL behaves as on PostgreSQL (row locks become trivially uncontended).
 */
export class PGliteDatabase implements SqlDatabase {
  readonly kind = 'pglite' as const;
  /** One in-process database: no replica. */
  readonly lagTolerant: SqlExecutor = this;

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating if needed) a database in `dir`, or in memory when `dir` is null. */
  static async open(dir: string | null): Promise<PGliteDatabase> {
    if (dir) mkdirSync(dir, { recursive: true });
    // int8 (bigint, count(*)) as JS numbers, as the pg adapter does.
    const opts = { parsers: { 20: (v: string) => Number(v) } };
    const db = dir ? new PGlite(dir, opts) : new PGlite(opts);
    await db.waitReady;
    return new PGliteDatabase(db);
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.db.query<T>(text, params as unknown[] | undefined);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (t) =>
      fn({
        query: async <R>(text: string, params?: readonly unknown[]) => {
          const r = await t.query<R>(text, params as unknown[] | undefined);
          return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
        },
        exec: async (script: string) => {
          await t.exec(script);
        },
      }),
    );
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
