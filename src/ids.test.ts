import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isId, newId } from './ids.js';

test('newId: valid, unique across pool refills, time-ordered prefix', () => {
  const ids = Array.from({ length: 5000 }, () => newId()); // 50 KB of random bytes: a dozen refills
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.ok(isId(id), id);
  const prefixes = ids.map((id) => id.slice(0, 12));
  assert.deepEqual(prefixes, [...prefixes].sort(), 'the time prefix never goes back');
  const tails = new Set(ids.map((id) => id.slice(12)));
  assert.equal(tails.size, ids.length, 'the random parts differ too');
});
