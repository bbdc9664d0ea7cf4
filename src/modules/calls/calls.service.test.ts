import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callSummary, durationText } from './calls.service.js';

test('call durations read as people say them', () => {
  assert.equal(durationText(0), '0 s');
  assert.equal(durationText(45), '45 s');
  assert.equal(durationText(60), '1 min');
  assert.equal(durationText(12 * 60 + 20), '12 min');
  assert.equal(durationText(3600), '1 h');
  assert.equal(durationText(3900), '1 h 5 min');
});

test('system message text of a call', () => {
  assert.equal(callSummary({ kind: 'audio', endReason: 'missed', durationSeconds: 0 }), 'missed audio call');
  assert.equal(callSummary({ kind: 'video', endReason: 'declined', durationSeconds: 0 }), 'declined video call');
  assert.equal(callSummary({ kind: 'video', endReason: 'completed', durationSeconds: 720 }), 'video call, 12 min');
});
