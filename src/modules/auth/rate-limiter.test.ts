import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKeyValueStore } from '../../platform/kv/kv.memory.js';
import { RateLimiter } from './rate-limiter.js';

/** A memory store that records each increment it is asked for. */
function counted() {
  const kv = new MemoryKeyValueStore();
  const calls: { key: string; by: number | undefined }[] = [];
  const incr = kv.incrWindow.bind(kv);
  kv.incrWindow = (key, ttl, by) => (calls.push({ key, by }), incr(key, ttl, by));
  return { kv, calls };
}

const settle = (ps: Promise<void>[]) => Promise.all(ps.map((p) => p.then(() => 'ok', (e: Error & { code?: string }) => e.code ?? e.message)));

test('hits of one key in one turn are one increment; each keeps its own place in the window, so exactly the hits past the budget are refused', async () => {
  const { kv, calls } = counted();
  const rl = new RateLimiter(kv);
  const limit = { max: 7, windowSeconds: 60 };
  const burst = await settle(Array.from({ length: 10 }, () => rl.user('u1', 'send', limit, 'messages')));
  assert.deepEqual(burst, ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'rate_limited', 'rate_limited', 'rate_limited']);
  assert.deepEqual(calls, [{ key: 'rl:send:user:u1', by: 10 }]);
  // The next turn goes on from the count the burst left.
  assert.deepEqual(await settle([rl.user('u1', 'send', { max: 11, windowSeconds: 60 }, 'messages')]), ['ok']);
  assert.equal(calls.length, 2);
});

test('other keys and other turns are counted apart; a failing store fails every hit of its burst', async () => {
  const { kv, calls } = counted();
  const rl = new RateLimiter(kv);
  const limit = { max: 1, windowSeconds: 60 };
  assert.deepEqual(await settle([rl.user('a', 'send', limit, 'messages'), rl.user('b', 'send', limit, 'messages'), rl.user('a', 'typing', limit, 'typing')]), ['ok', 'ok', 'ok']);
  assert.equal(calls.length, 3);
  kv.incrWindow = () => Promise.reject(new Error('store down'));
  assert.deepEqual(await settle([rl.user('c', 'send', limit, 'messages'), rl.user('c', 'send', limit, 'messages')]), ['store down', 'store down']);
});

test('a key whose increment fails in a turn fails its own hits only', async () => {
  const { kv } = counted();
  const rl = new RateLimiter(kv);
  const incr = kv.incrWindow.bind(kv);
  kv.incrWindow = (key, ttl, by) => (key.endsWith(':bad') ? Promise.reject(new Error('store down')) : incr(key, ttl, by));
  const limit = { max: 5, windowSeconds: 60 };
  assert.deepEqual(await settle([rl.user('ok', 'send', limit, 'messages'), rl.user('bad', 'send', limit, 'messages'), rl.user('ok', 'send', limit, 'messages')]), ['ok', 'store down', 'ok']);
});
