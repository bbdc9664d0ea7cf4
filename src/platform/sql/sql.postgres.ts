import pg from 'pg';
import type { QueryResult, SqlDatabase, SqlExecutor } from './sql.port.js';
import type { Logger } from '../../logger.js';

// Return int8 (bigint, count(*)) as JS numbers: our counters (seq, counts) stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Names for the statements a process runs again and again, so each connection keeps them
 * prepared: parsed once, and planned once PostgreSQL's plan cache settles on a generic plan
 * (after five custom plans, when the generic one costs no more). On this project's
 * statements planning costs more than running them (a message read: 0.24 ms of parse and
 * bind for 0.04 ms of execution, read off `log_min_duration_statement`). `pg` prepares a
 * named statement per connection by itself; what it lacks is choosing the names, which is
 * done here the way other drivers' statement caches do it (pgx, postgres.js): by text.
 *
 * A text is named the second time it runs (a one-off never is), and at most `max` texts
 * ever are: each named statement lives on every connection of the pool for its lifetime,
 * so their number must stay bounded even if some caller built texts without end. Our
 * texts are a fixed set (lists go in array parameters), far below the bound.
 */
export class StatementNames {
  private readonly seen = new Map<string, string | true>();
  private named = 0;

  constructor(private readonly max = 256) {}

  /**
   * Never names `text` again: a connection could not run it as kept (see isStalePlan; e.g.
   * a migration changed the columns a `*` stands for, under a process started before it).
   */
  forget(text: string): void {
    this.seen.set(text, true);
    this.banned.add(text);
  }

  private readonly banned = new Set<string>();

  /** The name to run `text` under, or undefined to run it unnamed. */
  nameFor(text: string): string | undefined {
    const v = this.seen.get(text);
    if (typeof v === 'string') return v;
    if (this.named >= this.max || this.banned.has(text)) return undefined;
    if (v === undefined) {
      // Remember a bounded number of texts seen once.
      if (this.seen.size < this.max * 4) this.seen.set(text, true);
      return undefined;
    }
    const name = `parley_${++this.named}`;
    this.seen.set(text, name);
    return name;
  }
}

/**
 * PostgreSQL adapter over a `pg` pool. The pool reconnects by itself after an outage. With
 * `replicaUrl`, a second pool on a streaming replica serves `lagTolerant` reads.
 */
export class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres' as const;
  readonly lagTolerant: SqlExecutor;
  private readonly pool: pg.Pool;
  private readonly replica: pg.Pool | undefined;
  /** Undefined: every statement runs unnamed (DATABASE_PREPARED_STATEMENTS=false). */
  private readonly names: StatementNames | undefined;

  constructor(connectionString: string, opts: { max: number; logger?: Logger; replicaUrl?: string; preparedStatements?: boolean }) {
    this.names = opts.preparedStatements === false ? undefined : new StatementNames();
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
      query: async <T>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
        try {
          const r = await this.run(replica, text, params);
          if (failing) opts.logger?.info('postgres replica answers again');
          failing = false;
          return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
        } catch (err) {
          // Down, restarting, or cancelled by a replication conflict: the primary answers the
          // same query (a real error in it fails there too). Logged once per outage.
          if (!failing) opts.logger?.warn({ err }, 'postgres replica query failed: reading from the primary meanwhile');
          failing = true;
          return this.query<T>(text, params);
        }
      },
      exec: (script: string) => this.exec(script),
    };
  }

  async query<T>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.run(this.pool, text, params);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  /**
   * Runs a query, named (prepared on each connection) when `names` says so; scripts without
   * parameters never are. A named statement the connection cannot run as kept (see
   * isStalePlan) is never named again and runs again unnamed: in a transaction that first
   * attempt aborted it, so there the error goes to the caller.
   */
  private async run(on: pg.Pool | pg.PoolClient, text: string, params: readonly unknown[] | undefined): Promise<pg.QueryResult> {
    const values = params as unknown[] | undefined;
    const name = values && values.length > 0 ? this.names?.nameFor(text) : undefined;
    if (!name) return on.query({ text, values });
    try {
      return await on.query({ text, values, name });
    } catch (err) {
      if (!isStalePlan(err)) throw err;
      this.names!.forget(text);
      if (on instanceof pg.Pool) return on.query({ text, values });
      throw err;
    }
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: SqlExecutor = {
      query: async <R>(text: string, params?: readonly unknown[]) => {
        const r = await this.run(client, text, params);
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

/**
 * A named statement the connection cannot run as kept: PostgreSQL refusing a plan whose
 * result type changed (0A000, "cached plan must not change result type"), or a name the
 * server does not hold as `pg` believes (26000: `pg` closed it after failing to encode a
 * parameter; 42P05 and 26000 behind a pooler that moves sessions between connections).
 */
function isStalePlan(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  if (code === '26000' || code === '42P05') return true;
  return code === '0A000' && /cached plan must not change result type/.test(String((err as Error).message));
}
