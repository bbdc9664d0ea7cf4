import { join } from 'node:path';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { SqlDatabase } from './sql.port.js';

/** Chooses the SQL adapter once at boot; only the chosen driver is loaded. */
export async function openSqlDatabase(config: Config, logger: Logger): Promise<SqlDatabase> {
  if (config.DATABASE_URL) {
    const { PostgresDatabase } = await import('./sql.postgres.js');
    return new PostgresDatabase(config.DATABASE_URL, {
      max: config.DATABASE_POOL_MAX,
      logger,
      preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
      ...(config.DATABASE_REPLICA_URL ? { replicaUrl: config.DATABASE_REPLICA_URL } : {}),
    });
  }
  const { PGliteDatabase } = await import('./sql.pglite.js');
  return PGliteDatabase.open(join(config.DATA_DIR, 'pglite'));
}

export type { SqlDatabase, SqlExecutor, QueryResult } from './sql.port.js';
export { isUniqueViolation } from './sql.port.js';
