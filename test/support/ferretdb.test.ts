// Smoke test for the FerretDB test helper: the MongoDB features the adapter relies on.
// Run: npx tsx --test test/support/ferretdb.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MongoClient, MongoServerError } from 'mongodb';
import { startFerretDB } from './ferretdb.js';
import { IN_CI } from './process.js';

test('FerretDB helper serves the MongoDB operations the adapter needs', async (t) => {
  const server = await startFerretDB();
  if (!server) {
    // Under CI=true a missing peer is a failure: a green run means this ran.
    if (IN_CI) assert.fail('no MongoDB server available (see the [ferretdb] line above)');
    t.skip('no MongoDB server available (see the [ferretdb] line above)');
    return;
  }
  const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    const db = client.db(`parley_ferretdb_smoke_${process.pid}`);
    const messages = await db.createCollection<{ conv: string; seq: number; body: string }>('messages');

    await messages.createIndex({ conv: 1, seq: 1 }, { unique: true, name: 'conv_seq_unique' });
    const indexes = await messages.indexes();
    const idx = indexes.find((i) => i.name === 'conv_seq_unique');
    assert.ok(idx, 'unique compound index exists');
    assert.equal(idx.unique, true);

    await messages.insertOne({ conv: 'c1', seq: 1, body: 'hello' });
    await messages.insertOne({ conv: 'c1', seq: 2, body: 'world' });

    await assert.rejects(
      messages.insertOne({ conv: 'c1', seq: 1, body: 'dup' }),
      (e: unknown) => e instanceof MongoServerError && e.code === 11000,
      'duplicate key on the unique compound index gives code 11000',
    );

    const latest = await messages.find({ conv: 'c1' }).sort({ seq: -1 }).limit(1).toArray();
    assert.equal(latest[0]?.body, 'world');

    const counters = db.collection<{ _id: string; n: number }>('counters');
    const first = await counters.findOneAndUpdate(
      { _id: 'c1' },
      { $inc: { n: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    assert.deepEqual(first, { _id: 'c1', n: 1 });
    const second = await counters.findOneAndUpdate(
      { _id: 'c1' },
      { $inc: { n: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    assert.deepEqual(second, { _id: 'c1', n: 2 });

    await db.dropDatabase();
  } finally {
    await client.close();
    await server.stop();
  }
});
