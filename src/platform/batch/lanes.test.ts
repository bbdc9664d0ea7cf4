import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lanes } from './lanes.js';

test('Lanes: one key runs in order, whatever each task takes; a failure does not stop the lane; other keys do not wait', async () => {
  const lanes = new Lanes();
  const order: string[] = [];
  const a1 = lanes.run('a', async () => {
    await sleep(30);
    order.push('a1');
  });
  const a2 = lanes.run('a', async () => {
    order.push('a2');
    throw new Error('a2 failed');
  });
  const a3 = lanes.run('a', async () => {
    order.push('a3');
    return 3;
  });
  const b1 = lanes.run('b', async () => {
    order.push('b1');
  });
  await b1;
  assert.deepEqual(order, ['b1'], 'b did not wait for a');
  await a1;
  await assert.rejects(a2, /a2 failed/);
  assert.equal(await a3, 3);
  assert.deepEqual(order, ['b1', 'a1', 'a2', 'a3']);
  await sleep(0);
  assert.equal(lanes.size, 0, 'settled lanes are forgotten');
});
