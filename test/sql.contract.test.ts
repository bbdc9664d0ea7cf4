import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqlContract } from '../src/platform/sql/sql.contract.js';
import { PGliteDatabase } from '../src/platform/sql/sql.pglite.js';
import { PostgresDatabase } from '../src/platform/sql/sql.postgres.js';
import { migrate } from '../src/platform/sql/migrator.js';
import { SQL_BACKENDS } from './harness.js';
import { createTestDatabase } from './support/postgres.js';

if (SQL_BACKENDS.includes('pglite')) {
  describe('SQL contract: PGlite', () => {
    sqlContract(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-pglite-'));
      const db = await PGliteDatabase.open(dir);
      return { db, dispose: async () => (await db.close(), rmSync(dir, { recursive: true, force: true })) };
    });
  });
}

if (SQL_BACKENDS.includes('postgres')) {
  describe('SQL contract: PostgreSQL', () => {
    sqlContract(async () => {
      const t = await createTestDatabase();
      const db = new PostgresDatabase(t.url, { max: 10 });
      return { db, dispose: async () => (await db.close(), await t.drop()) };
    });

    test('two processes migrating at once: one applies, the other waits and applies nothing', async () => {
      const t = await createTestDatabase();
      const a = new PostgresDatabase(t.url, { max: 2 });
      const b = new PostgresDatabase(t.url, { max: 2 });
      try {
        const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
        assert.ok((ra.length > 0) !== (rb.length > 0), `${ra} / ${rb}`);
      } finally {
        await a.close();
        await b.close();
        await t.drop();
      }
    });
  });
}
