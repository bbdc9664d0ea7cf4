import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seqPageQuery, seqPageResult } from './seq-page.js';

test('seqPageQuery: the newest page, a page before a seq, a page after one, and a window', () => {
  assert.deepEqual(seqPageQuery('conversation_id', 'c1', { limit: 50 }), { where: 'conversation_id = $1', order: 'DESC', params: ['c1', 51] });
  assert.deepEqual(seqPageQuery('root_id', 'r', { limit: 10, beforeSeq: 7 }), { where: 'root_id = $1 AND seq < $3', order: 'DESC', params: ['r', 11, 7] });
  assert.deepEqual(seqPageQuery('root_id', 'r', { limit: 10, afterSeq: 3 }), { where: 'root_id = $1 AND seq > $3', order: 'ASC', params: ['r', 11, 3] });
  assert.deepEqual(seqPageQuery('root_id', 'r', { limit: 10, afterSeq: 3, beforeSeq: 9 }), { where: 'root_id = $1 AND seq > $3 AND seq < $4', order: 'ASC', params: ['r', 11, 3, 9] });
});

test('seqPageResult: ascending order, the extra row only says there is more', () => {
  // Read newest first (DESC) with one row past the limit.
  assert.deepEqual(seqPageResult([9, 8, 7, 6], { limit: 3 }, 'DESC'), { page: [7, 8, 9], hasMore: true });
  assert.deepEqual(seqPageResult([9, 8], { limit: 3 }, 'DESC'), { page: [8, 9], hasMore: false });
  // Read forward (ASC).
  assert.deepEqual(seqPageResult([4, 5, 6, 7], { limit: 3, afterSeq: 3 }, 'ASC'), { page: [4, 5, 6], hasMore: true });
  assert.deepEqual(seqPageResult([], { limit: 3 }, 'DESC'), { page: [], hasMore: false });
});
