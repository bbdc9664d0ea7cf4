import pg from 'pg';
import type { QueryResult, SqlDatabase, SqlExecutor } from './sql.port.js';
import type { Logger } from '../../logger.js';

// Return int8 (bigint, count(*)) as JS numbers: our counters (seq, counts) stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** PostgreSQL adapter over a `pg` pool. The pool reconnects by itself after an outage. */
export class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connectionString: string, opts: { max: number; logger?: Logger }) {
    this.pool = new pg.Pool({ connectionString, max: opts.max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
    // An idle client losing its connection (server restart) must not crash the process.
    this.pool.on('error', (err) => opts.logger?.warn({ err }, 'postgres idle client error'));
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(text, params as unknown[] | undefined);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: SqlExecutor = {
      query: async <R>(text: string, params?: readonly unknown[]) => {
        const r = await client.query(text, params as unknown[] | undefined);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      },
      exec: async (script: string) => {
        await client.query(script);
      },
    };
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const out = await fn(tx);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr; // the connection is unusable: destroy it rather than return it
      }
      throw err;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
