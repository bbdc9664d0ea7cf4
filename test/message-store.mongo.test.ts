// The message store contract against the MongoDB adapter: a real mongod when MONGODB_URL
// is set, otherwise FerretDB 1.24 started on loopback by test/support/ferretdb.ts. Its change
// marks go to a PostgreSQL database of this run (created here, dropped at the end).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { createLogger } from '../src/logger.js';
import { newId } from '../src/ids.js';
import { messageStoreContract } from '../src/platform/message-store/message-store.contract.js';
import { MongoMessageStore } from '../src/platform/message-store/message-store.mongo.js';
import pg from 'pg';
import { PostgresDatabase } from '../src/platform/sql/sql.postgres.js';
import { migrate } from '../src/platform/sql/migrator.js';
import { startFerretDB, type MongoTestServer } from './support/ferretdb.js';
import { createTestDatabase } from './support/postgres.js';
import { skipUnlessCI } from './support/process.js';

const server: MongoTestServer | null = await startFerretDB();
const skip = skipUnlessCI(server ? false : 'no MongoDB server: MONGODB_URL unset and FerretDB could not be built (see the [ferretdb] line above)');

// One SQL database for every test here: marks are keyed by message id, and every test uses
// conversations of its own, so they never see each other's.
const pgdb = await createTestDatabase();
const sql = new PostgresDatabase(pgdb.url, { max: 8 });
await migrate(sql);

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
      const store = await MongoMessageStore.open(server!.url, dbName, logger, sql);
      const others: MongoMessageStore[] = [];
      return {
        store,
        // Another client (its own pool and seq hints), as another process would have.
        second: async () => {
          const s = await MongoMessageStore.open(server!.url, dbName, logger, sql);
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

/**
 * A fresh MongoDB database for one test: `open` opens a store on it (each its own client, as
 * another process would), `db` is the database as an admin client sees it. Everything is
 * closed and the database dropped afterwards.
 */
async function withDatabase(fn: (open: () => Promise<MongoMessageStore>, db: Db) => Promise<void>): Promise<void> {
  const dbName = `parley_test_${randomBytes(6).toString('hex')}`;
  const admin = new MongoClient(server!.url, { serverSelectionTimeoutMS: 5_000 });
  await admin.connect();
  const stores: MongoMessageStore[] = [];
  try {
    await fn(async () => {
      const s = await MongoMessageStore.open(server!.url, dbName, createLogger('silent'), sql);
      stores.push(s);
      return s;
    }, admin.db(dbName));
  } finally {
    for (const s of stores) await s.close();
    await admin.db(dbName).dropDatabase();
    await admin.close();
  }
}

/** A new user message of `senderId` in `conversationId`. */
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

// Change numbers are the transactions of the change marks in SQL, written after the message:
// a mark in progress during a scan is new to the next scan, however late it commits.
describe('MongoDB store: exact change scans', { skip }, () => {
  const logger = createLogger('silent');

  test('a change whose mark commits after a scan comes with the next scan, exactly once', async () => {
    const dbName = `parley_test_${randomBytes(6).toString('hex')}`;
    const admin = new MongoClient(server!.url, { serverSelectionTimeoutMS: 5_000 });
    await admin.connect();
    const store = await MongoMessageStore.open(server!.url, dbName, logger, sql);
    const late = new pg.Client({ connectionString: pgdb.url });
    await late.connect();
    try {
      const c = newId();
      const { message: m } = await store.insert(message(c, 'u1', 'before'));
      const start = await store.changeSnapshot();
      // A slow writer: its mark's transaction is open while it writes the message...
      await late.query('BEGIN');
      await late.query(`UPDATE mongo_message_changes SET xid = pg_current_xact_id(), changed_at = now() WHERE message_id = $1`, [m.id]);
      await admin.db(dbName).collection<{ _id: string }>('messages').updateOne({ _id: m.id }, { $set: { text: 'late', rev: m.rev + 1 } });
      // ...a scan runs meanwhile, and another change lands and commits after it...
      const { message: other } = await store.insert(message(c, 'u2', 'other'));
      const first = await store.changedSince([c], { from: { snapshot: start } }, 100);
      assert.deepEqual(first.changes.map((x) => x.message.id), [other.id], 'only the committed change');
      // ...and only then does the slow writer commit.
      await late.query('COMMIT');
      const next = await store.changedSince([c], { from: { snapshot: first.snapshot } }, 100);
      assert.deepEqual(next.changes.map((x) => [x.message.id, x.message.text, x.isNew]), [[m.id, 'late', false]], 'delivered by the next scan, once');
      const after = await store.changedSince([c], { from: { snapshot: next.snapshot } }, 100);
      assert.deepEqual(after.changes, [], 'and never again');
    } finally {
      await late.end();
      await store.close();
      await admin.db(dbName).dropDatabase();
      await admin.close();
    }
  });

  test('a send whose mark was lost to a crash is marked by its retry; messages stored before marks are backfilled, never skipped', async () => {
    await withDatabase(async (open, db) => {
      const s1 = await open();
      const c = newId();
      const start = await s1.changeSnapshot();
      const sent = (await s1.insert(message(c, 'u1', 'sent'))).message;
      // The crash: the message is in MongoDB, its mark never committed.
      await sql.query('DELETE FROM mongo_message_changes WHERE message_id = $1', [sent.id]);
      assert.deepEqual((await s1.changedSince([c], { from: { snapshot: start } }, 100)).changes, []);
      const retry = await s1.insert({ ...message(c, 'u1', 'sent'), clientMsgId: sent.clientMsgId });
      assert.equal(retry.created, false);
      const found = await s1.changedSince([c], { from: { snapshot: start } }, 100);
      assert.deepEqual(found.changes.map((x) => [x.message.id, x.isNew]), [[sent.id, true]], 'the retry marked it');

      // A database written by the version before marks: no marks at all, no backfill marker.
      const old = { ...message(c, 'u2', 'old'), _id: newId(), seq: 99, rev: 1, reactions: [], createdAt: new Date(), editedAt: null, deletedAt: null, updatedAt: new Date(), change: 7, createdChange: 7 };
      await db.collection<{ _id: string }>('messages').insertOne(old);
      await db.collection<{ _id: string }>('message_changes').deleteMany({});
      const beforeBackfill = await s1.changeSnapshot();
      const s2 = await open(); // backfills
      const v2 = await s2.changedSince([c], { from: { snapshot: beforeBackfill } }, 100);
      assert.ok(
        v2.changes.some((x) => x.message.id === old._id && x.isNew),
        'a cursor from before the upgrade gets the older message (again, at worst), never skips it',
      );
      const after = await s2.changedSince([c], { from: { snapshot: v2.snapshot } }, 100);
      assert.ok(!after.changes.some((x) => x.message.id === old._id), 'and a cursor from after the backfill does not');
      const byTime = await s2.changedSince([c], { from: { since: new Date(Date.now() - 60_000) } }, 100);
      assert.ok(byTime.changes.some((x) => x.message.id === old._id), 'found by a cursor of the old time-based format');

      // A mark whose document was deleted by hand: removed, and the scan still pages by what exists.
      await db.collection<{ _id: string }>('messages').deleteOne({ _id: old._id });
      const orphaned = await s2.changedSince([c], { from: { snapshot: start } }, 100);
      assert.deepEqual(orphaned.changes.map((x) => x.message.id), [sent.id], 'the rest of the scan, nothing of the orphan');
      assert.equal((await sql.query('SELECT 1 FROM mongo_message_changes WHERE message_id = $1', [old._id])).rows.length, 0, 'orphan mark removed');
    });
  });
});

// FerretDB answers the hot path from `message_index` (lookups by _id); these show the index
// is rebuilt for messages stored without it, and that a lagging index never breaks
// idempotency or seq allocation. Only on FerretDB: a real MongoDB does not use the index.
after(async () => {
  await server?.stop();
  await sql.close();
  await pgdb.drop();
});

const ferret = server && !process.env.MONGODB_URL;
describe('MongoDB store on FerretDB: the _id index', { skip: ferret ? false : 'needs FerretDB (MONGODB_URL points at another server)' }, () => {

  test('messages stored before the index existed are backfilled at open; a lost index document only slows a path down', async () => {
    await withDatabase(async (open, db) => {
      const s1 = await open();
      const c = newId();
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push((await s1.insert(message(c, 'u1', `m${i}`))).message);
      // As if written by a version without the index: drop it entirely.
      await db.collection('message_index').drop();

      const s2 = await open(); // backfills
      const head = (await s2.heads([c])).get(c);
      assert.equal(head?.lastSeq, 5);
      assert.equal(head?.lastMessage?.text, 'm4');
      assert.equal((await s2.findByClientMsgId('u1', sent[2]!.clientMsgId))?.id, sent[2]!.id);
      assert.equal((await s2.insert(message(c, 'u2', 'after backfill'))).message.seq, 6);

      // A key document lost (a crash between the message and its index): a retry of that
      // send is still answered with the stored message, and the key is repaired.
      await db.collection<{ _id: string }>('message_index').deleteOne({ _id: `c:u1:${sent[4]!.clientMsgId}` });
      const retry = await s2.insert({ ...message(c, 'u1', 'retry'), clientMsgId: sent[4]!.clientMsgId });
      assert.equal(retry.created, false);
      assert.equal(retry.message.id, sent[4]!.id);
      assert.equal((await s2.findByClientMsgId('u1', sent[4]!.clientMsgId))?.id, sent[4]!.id, 'key repaired');

      // A lost seq slot: another handle (no hint) sees a lower last seq, collides on the
      // unique index, and still stores the next message at the next seq with no gap.
      await db.collection<{ _id: string }>('message_index').deleteOne({ _id: `s:${c}:6` });
      const s3 = await open();
      const next = await s3.insert(message(c, 'u3', 'next'));
      assert.equal(next.message.seq, 7);
      const { messages } = await s3.list(c, { limit: 100 });
      assert.deepEqual(messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
      assert.equal((await s3.heads([c])).get(c)?.lastSeq, 7);
      assert.equal((await s3.countUnread('u9', [{ conversationId: c, afterSeq: 4 }])).get(c), 3);
      // ...and the collision repaired the slot: a cold handle finds the true head too.
      const s4 = await open();
      assert.equal((await s4.heads([c])).get(c)?.lastSeq, 7);
    });
  });
});
