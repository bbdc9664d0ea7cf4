import type { SqlDatabase } from './sql.port.js';
import { MIGRATIONS } from './migrations.js';
import type { Logger } from '../../logger.js';

/** Any constant works; it only has to be the same for every Parley process. */
const MIGRATION_LOCK_KEY = 7_262_001;

/**
 * Applies pending migrations in order, in one transaction guarded by a transaction-level
 * advisory lock: running it twice is a no-op, and two processes starting at once take
 * turns (the second sees the first one's work and applies nothing).
 */
export async function migrate(db: SqlDatabase, logger?: Logger): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => Number(r.version)));
    const done: number[] = [];
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      logger?.info({ version: m.version, name: m.name }, 'applying migration');
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      done.push(m.version);
    }
    return done;
  });
}
