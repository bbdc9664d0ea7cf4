import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobsOfRow, SEND_OUTBOX_KIND } from './outbox.repository.js';

const ref = { messageId: 'm1', conversationId: 'c1', seq: 7, senderId: 'u1' };

test("a send's row expands to one job per kind, with the job ids consumers deduplicate by", () => {
  const jobs = jobsOfRow({ id: `${SEND_OUTBOX_KIND}:m1`, kind: SEND_OUTBOX_KIND, payload: { ...ref, jobs: ['notify.push', 'mentions.detect'] } });
  assert.deepEqual(jobs, [
    { id: 'notify.push:m1', kind: 'notify.push', payload: ref },
    { id: 'mentions.detect:m1', kind: 'mentions.detect', payload: ref },
  ]);
});

test('a row of one job (the earlier format) is relayed as it is', () => {
  assert.deepEqual(jobsOfRow({ id: 'notify.email:m1', kind: 'notify.email', payload: ref }), [{ id: 'notify.email:m1', kind: 'notify.email', payload: ref }]);
});

test('a row this version does not fully know is left alone (null), never relayed in part', () => {
  assert.equal(jobsOfRow({ id: 'x:1', kind: 'some.future.kind', payload: ref }), null);
  assert.equal(jobsOfRow({ id: 's:1', kind: SEND_OUTBOX_KIND, payload: { ...ref, jobs: ['notify.push', 'some.future.kind'] } }), null);
  assert.equal(jobsOfRow({ id: 's:2', kind: SEND_OUTBOX_KIND, payload: { ...ref } }), null);
  assert.equal(jobsOfRow({ id: 's:3', kind: SEND_OUTBOX_KIND, payload: { jobs: ['notify.push'] } }), null);
  assert.equal(jobsOfRow({ id: 's:4', kind: SEND_OUTBOX_KIND, payload: null }), null);
});
