import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TickBatcher } from './tick-batcher.js';

test('calls in one turn share one run, results in order', async () => {
  const runs: number[][] = [];
  const b = new TickBatcher<number, number>(async (xs) => {
    runs.push(xs);
    return xs.map((x) => x * 2);
  });
  const out = await Promise.all([1, 2, 3].map((x) => b.add(x)));
  assert.deepEqual(out, [2, 4, 6]);
  assert.deepEqual(runs, [[1, 2, 3]]);
  assert.equal(await b.add(5), 10);
  assert.deepEqual(runs, [[1, 2, 3], [5]]);
});

test('a failed run rejects every call of its batch, and the next batch runs', async () => {
  let fail = true;
  const b = new TickBatcher<string, string>(async (xs) => {
    if (fail) throw new Error('down');
    return xs;
  });
  const rs = await Promise.allSettled([b.add('a'), b.add('b')]);
  assert.deepEqual(rs.map((r) => r.status), ['rejected', 'rejected']);
  fail = false;
  assert.equal(await b.add('c'), 'c');
});

test('a synchronous throw and a wrong result count reject instead of hanging', async () => {
  const sync = new TickBatcher<number, number>(() => {
    throw new Error('sync');
  });
  await assert.rejects(sync.add(1), /sync/);
  const short = new TickBatcher<number, number>(async () => [1]);
  await assert.rejects(Promise.all([short.add(1), short.add(2)]), /1 results for 2 items/);
});

test('batches are capped; the rest go in the next flush', async () => {
  const runs: number[] = [];
  const b = new TickBatcher<number, number>(async (xs) => {
    runs.push(xs.length);
    return xs;
  }, 2);
  await Promise.all([1, 2, 3, 4, 5].map((x) => b.add(x)));
  assert.deepEqual(runs, [2, 2, 1]);
});
