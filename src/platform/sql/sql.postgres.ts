import pg from 'pg';
import type { QueryOptions, QueryResult, SqlDatabase, SqlExecutor } from './sql.port.js';
import type { Logger } from '../../logger.js';

// Return int8 (bigint, count(*)) as JS numbers: our counters (seq, counts) stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * PostgreSQL adapter over a `pg` pool. The pool reconnects by itself after an outage. With
 * `replicaUrl`, a second pool on a streaming replica serves `lagTolerant` reads.
 */
export class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres' as const;
  readonly lagTolerant: SqlExecutor;
  private readonly pool: pg.Pool;
  private readonly replica: pg.Pool | undefined;

  constructor(connectionString: string, opts: { max: number; logger?: Logger; replicaUrl?: string }) {
    this.pool = new pg.Pool({ connectionString, max: opts.max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
    // An idle client losing its connection (server restart) must not crash the process.
    this.pool.on('error', (err) => opts.logger?.warn({ err }, 'postgres idle client error'));
    if (!opts.replicaUrl) {
      this.lagTolerant = this;
      return;
    }
    // A replica that does not answer must not hold reads up for long: fall back quickly.
    const replica = (this.replica = new pg.Pool({ connectionString: opts.replicaUrl, max: opts.max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 2_000 }));
    replica.on('error', (err) => opts.logger?.warn({ err }, 'postgres replica idle client error'));
    let failing = false;
    this.lagTolerant = {
      query: async <T>(text: string, params?: readonly unknown[], qopts?: QueryOptions): Promise<QueryResult<T>> => {
        try {
          const r = await replica.query(toConfig(text, params, qopts));
          if (failing) opts.logger?.info('postgres replica answers again');
          failing = false;
          return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
        } catch (err) {
          // Down, restarting, or cancelled by a replication conflict: the primary answers the
          // same query (a real error in it fails there too). Logged once per outage.
          if (!failing) opts.logger?.warn({ err }, 'postgres replica query failed: reading from the primary meanwhile');
          failing = true;
          return this.query<T>(text, params, qopts);
        }
      },
      exec: (script: string) => this.exec(script),
    };
  }

  async query<T>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<T>> {
    const r = await this.pool.query(toConfig(text, params, opts));
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: SqlExecutor = {
      query: async <R>(text: string, params?: readonly unknown[], opts?: QueryOptions) => {
        const r = await client.query(toConfig(text, params, opts));
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
    await Promise.all([this.pool.end(), this.replica?.end()]);
  }
}

/** A `pg` query; with `prepare`, a named statement (each connection parses it once). */
function toConfig(text: string, params: readonly unknown[] | undefined, opts: QueryOptions | undefined): pg.QueryConfig {
  return { text, values: params as unknown[] | undefined, ...(opts?.prepare ? { name: opts.prepare } : {}) };
}
