// The message store contract against the MongoDB adapter: a real mongod when MONGODB_URL
// is set, otherwise FerretDB 1.24 started on loopback by test/support/ferretdb.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { createLogger } from '../src/logger.js';
import { newId } from '../src/ids.js';
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

// Change numbers come from a counter one round trip before the write, so a writer can land
// a number a scan has already passed: the next scan's rescan band must still deliver it.
describe('MongoDB store: a late writer within the rescan band', { skip }, () => {
  test('a change numbered before a scan but written after it comes with the next scan', async () => {
    const logger = createLogger('silent');
    const dbName = `parley_test_${randomBytes(6).toString('hex')}`;
    const admin = new MongoClient(server!.url, { serverSelectionTimeoutMS: 5_000 });
    await admin.connect();
    const store = await MongoMessageStore.open(server!.url, dbName, logger);
    try {
      const c = newId();
      const { message: m } = await store.insert({ id: newId(), conversationId: c, senderId: 'u1', clientMsgId: newId(), kind: 'user', text: 'before', attachments: [], replyToId: null, mentions: [], system: null });
      const start = await store.changeSnapshot();
      // The late writer takes its number (as `nextChange` does)...
      const counter = await admin.db(dbName).collection<{ _id: string; n: number }>('message_changes').findOneAndUpdate({ _id: 'counter' }, { $inc: { n: 1 } }, { returnDocument: 'after' });
      const late = counter!.n;
      // ...a scan runs past it and another change lands after it...
      const { message: other } = await store.insert({ id: newId(), conversationId: c, senderId: 'u2', clientMsgId: newId(), kind: 'user', text: 'other', attachments: [], replyToId: null, mentions: [], system: null });
      const first = await store.changedSince([c], { from: { snapshot: start } }, 100);
      assert.ok(first.changes.some((x) => x.message.id === other.id));
      assert.ok(!first.changes.some((x) => x.message.text === 'late'), 'not written yet');
      // ...and only then does the late write land, with its older number.
      await admin.db(dbName).collection<{ _id: string }>('messages').updateOne({ _id: m.id }, { $set: { text: 'late', rev: m.rev + 1, change: late } });
      const next = await store.changedSince([c], { from: { snapshot: first.snapshot } }, 100);
      const got = next.changes.find((x) => x.message.id === m.id);
      assert.equal(got?.message.text, 'late', 'delivered by the next scan');
      assert.equal(got?.isNew, false);
    } finally {
      await store.close();
      await admin.db(dbName).dropDatabase();
      await admin.close();
    }
  });
});

// FerretDB answers the hot path from `message_index` (lookups by _id); these show the index
// is rebuilt for messages stored without it, and that a lagging index never breaks
// idempotency or seq allocation. Only on FerretDB: a real MongoDB does not use the index.
after(async () => {
  await server?.stop();
});

const ferret = server && !process.env.MONGODB_URL;
describe('MongoDB store on FerretDB: the _id index', { skip: ferret ? false : 'needs FerretDB (MONGODB_URL points at another server)' }, () => {
  const logger = createLogger('silent');
  const message = (conversationId: string, senderId: string, text: string) => ({
    id: newId(),
    conversationId,
    senderId,
    clientMsgId: newId(),
    kind: 'user' as const,
    text,
    attachments: [],
    replyToId: null,
    mentions: [],
    system: null,
  });

  test('messages stored before the index existed are backfilled at open; a lost index document only slows a path down', async () => {
    const dbName = `parley_test_${randomBytes(6).toString('hex')}`;
    const admin = new MongoClient(server!.url, { serverSelectionTimeoutMS: 5_000 });
    await admin.connect();
    const stores: MongoMessageStore[] = [];
    try {
      const s1 = await MongoMessageStore.open(server!.url, dbName, logger);
      stores.push(s1);
      const c = newId();
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push((await s1.insert(message(c, 'u1', `m${i}`))).message);
      // As if written by a version without the index: drop it entirely.
      await admin.db(dbName).collection('message_index').drop();

      const s2 = await MongoMessageStore.open(server!.url, dbName, logger); // backfills
      stores.push(s2);
      const head = (await s2.heads([c])).get(c);
      assert.equal(head?.lastSeq, 5);
      assert.equal(head?.lastMessage?.text, 'm4');
      assert.equal((await s2.findByClientMsgId('u1', sent[2]!.clientMsgId))?.id, sent[2]!.id);
      assert.equal((await s2.insert(message(c, 'u2', 'after backfill'))).message.seq, 6);

      // A key document lost (a crash between the message and its index): a retry of that
      // send is still answered with the stored message, and the key is repaired.
      await admin.db(dbName).collection<{ _id: string }>('message_index').deleteOne({ _id: `c:u1:${sent[4]!.clientMsgId}` });
      const retry = await s2.insert({ ...message(c, 'u1', 'retry'), clientMsgId: sent[4]!.clientMsgId });
      assert.equal(retry.created, false);
      assert.equal(retry.message.id, sent[4]!.id);
      assert.equal((await s2.findByClientMsgId('u1', sent[4]!.clientMsgId))?.id, sent[4]!.id, 'key repaired');

      // A lost seq slot: another handle (no hint) sees a lower last seq, collides on the
      // unique index, and still stores the next message at the next seq with no gap.
      await admin.db(dbName).collection<{ _id: string }>('message_index').deleteOne({ _id: `s:${c}:6` });
      const s3 = await MongoMessageStore.open(server!.url, dbName, logger);
      stores.push(s3);
      const next = await s3.insert(message(c, 'u3', 'next'));
      assert.equal(next.message.seq, 7);
      const { messages } = await s3.list(c, { limit: 100 });
      assert.deepEqual(messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
      assert.equal((await s3.heads([c])).get(c)?.lastSeq, 7);
      assert.equal((await s3.countUnread('u9', [{ conversationId: c, afterSeq: 4 }])).get(c), 3);
      // ...and the collision repaired the slot: a cold handle finds the true head too.
      const s4 = await MongoMessageStore.open(server!.url, dbName, logger);
      stores.push(s4);
      assert.equal((await s4.heads([c])).get(c)?.lastSeq, 7);
    } finally {
      for (const s of stores) await s.close();
      await admin.db(dbName).dropDatabase();
      await admin.close();
    }
  });
});
