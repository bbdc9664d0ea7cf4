import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMentions } from './mentions.js';

test('parses @username, @all and @here; ignores e-mail addresses and short names', () => {
  const r = parseMentions('hi @Bob and @carol.w. — mail me at dave@example.com, cc @all @here @ab');
  assert.deepEqual(r.usernames.sort(), ['bob', 'carol.w']);
  assert.equal(r.all, true);
  assert.equal(r.here, true);
  assert.deepEqual(parseMentions('@start of line').usernames, ['start']);
  assert.deepEqual(parseMentions('no mentions here').usernames, []);
  assert.equal(parseMentions('@allison').all, false);
});
