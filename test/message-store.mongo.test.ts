// The message store contract against the MongoDB adapter: a real mongod when MONGODB_URL
// is set, otherwise FerretDB 1.24 started on loopback by test/support/ferretdb.ts.
import { after, before, describe } from 'node:test';
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { createLogger } from '../src/logger.js';
import { messageStoreContract } from '../src/platform/message-store/message-store.contract.js';
import { MongoMessageStore } from '../src/platform/message-store/message-store.mongo.js';
import { startFerretDB, type MongoTestServer } from './support/ferretdb.js';
import { skipUnlessCI } from './support/process.js';

const server: MongoTestServer | null = await startFerretDB();
const skip = skipUnlessCI(server ? false : 'no MongoDB server: MONGODB_URL unset and FerretDB could not be built (see the [ferretdb] line above)');

describe('message store contract: MongoDB', { skip }, () => {
  const logger = createLogger('silent');
  let admin: MongoClient;

  before(async () => {
    admin = new MongoClient(server!.url, { serverSelectionTimeoutMS: 5_000 });
    await admin.connect();
  });
  after(async () => {
    await admin?.close();
    await server?.stop();
  });

  messageStoreContract({
    async open() {
      // A fresh database per test, so tests never see each other's messages.
      const dbName = `parley_test_${randomBytes(6).toString('hex')}`;
      const store = await MongoMessageStore.open(server!.url, dbName, logger);
      const others: MongoMessageStore[] = [];
      return {
        store,
        // Another client (its own pool and seq hints), as another process would have.
        second: async () => {
          const s = await MongoMessageStore.open(server!.url, dbName, logger);
          others.push(s);
          return s;
        },
        dispose: async () => {
          for (const o of others) await o.close();
          await store.close();
          await admin.db(dbName).dropDatabase();
        },
      };
    },
  });
});
