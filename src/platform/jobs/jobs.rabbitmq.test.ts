import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchesOf, type Envelope } from './jobs.rabbitmq.js';

const env = (id: string, kind: Envelope['kind'], payload: unknown = null): Envelope => ({ id, kind, payload, enqueuedAt: '2026-12-03T00:00:00.000Z' });

test('batchesOf: by kind in order, at most `max` jobs a message; a message of one is the bare envelope under its own id', () => {
  const jobs = [env('p1', 'notify.push'), env('e1', 'notify.email'), env('p2', 'notify.push'), env('p3', 'notify.push'), env('b1', 'notify.background')];
  const out = batchesOf(jobs, 2);
  const read = out.map((m) => ({ kind: m.kind, messageId: m.messageId, body: JSON.parse(m.content.toString()) }));
  const push = read.filter((m) => m.kind === 'notify.push');
  assert.deepEqual(push.map((m) => m.body.batch?.map((e: Envelope) => e.id) ?? [m.body.id]), [['p1', 'p2'], ['p3']]);
  assert.equal(push[1]!.messageId, 'p3');
  assert.deepEqual(push[1]!.body, jobs[3]);
  assert.notEqual(push[0]!.messageId, 'p1', 'a batch gets an id of its own');
  assert.deepEqual(read.find((m) => m.kind === 'notify.email')!.body, jobs[1]);
  assert.equal(read.length, 4);
});

test('batchesOf: a batch stays under 256 KiB; a larger job travels alone', () => {
  const big = 'x'.repeat(100 * 1024);
  const jobs = [env('a', 'links.preview', big), env('b', 'links.preview', big), env('c', 'links.preview', big), env('huge', 'links.preview', 'y'.repeat(300 * 1024))];
  const out = batchesOf(jobs, 64);
  const ids = out.map((m) => {
    const body = JSON.parse(m.content.toString());
    return body.batch ? body.batch.map((e: Envelope) => e.id) : [body.id];
  });
  assert.deepEqual(ids, [['a', 'b'], ['c'], ['huge']]);
  for (const m of out.slice(0, 2)) assert.ok(m.content.length <= 256 * 1024);
});
