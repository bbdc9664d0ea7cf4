import { describe } from 'node:test';
import { messageStoreContract } from '../src/platform/message-store/message-store.contract.js';
import { SqlMessageStore } from '../src/platform/message-store/message-store.sql.js';
import { PGliteDatabase } from '../src/platform/sql/sql.pglite.js';
import { PostgresDatabase } from '../src/platform/sql/sql.postgres.js';
import { migrate } from '../src/platform/sql/migrator.js';
import { SQL_BACKENDS } from './harness.js';
import { createTestDatabase } from './support/postgres.js';

if (SQL_BACKENDS.includes('pglite')) {
  describe('message store contract: SQL on PGlite', () => {
    messageStoreContract({
      async open() {
        const db = await PGliteDatabase.open(null);
        await migrate(db);
        return { store: new SqlMessageStore(db), second: async () => new SqlMessageStore(db), dispose: () => db.close() };
      },
    });
  });
}

if (SQL_BACKENDS.includes('postgres')) {
  describe('message store contract: SQL on PostgreSQL', () => {
    messageStoreContract({
      async open() {
        const t = await createTestDatabase();
        const db = new PostgresDatabase(t.url, { max: 8 });
        await migrate(db);
        const others: PostgresDatabase[] = [];
        return {
          store: new SqlMessageStore(db),
          second: async () => {
            const d = new PostgresDatabase(t.url, { max: 8 });
            others.push(d);
            return new SqlMessageStore(d);
          },
          dispose: async () => {
            for (const o of others) await o.close();
            await db.close();
            await t.drop();
          },
        };
      },
    });
  });
}
