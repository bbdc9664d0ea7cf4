import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, defaultLevel, neverNotified, type RecipientState } from './notifications.policy.js';

const now = new Date('2026-01-01T00:00:00Z');
const base: RecipientState = { userId: 'b', level: 'all', mutedUntil: null, mentioned: false, active: false, read: false };

test('defaults: direct all, group mentions', () => {
  assert.equal(defaultLevel('direct'), 'all');
  assert.equal(defaultLevel('group'), 'mentions');
});

test('the sender, an active member and one who already read get nothing', () => {
  assert.equal(decide({ ...base, userId: 'a' }, 'a', now), 'none');
  assert.equal(decide({ ...base, active: true, mentioned: true }, 'a', now), 'none');
  assert.equal(decide({ ...base, read: true }, 'a', now), 'none');
});

test('levels: all alerts, mentions alerts only when mentioned (else a silent sync), none is silent', () => {
  assert.equal(decide(base, 'a', now), 'alert');
  assert.equal(decide({ ...base, level: 'mentions' }, 'a', now), 'background');
  assert.equal(decide({ ...base, level: 'mentions', mentioned: true }, 'a', now), 'alert');
  assert.equal(decide({ ...base, level: 'none', mentioned: true }, 'a', now), 'none');
});

test('muted until a future time: nothing; a past mute no longer counts', () => {
  assert.equal(decide({ ...base, mentioned: true, mutedUntil: new Date(now.getTime() + 1000) }, 'a', now), 'none');
  assert.equal(decide({ ...base, mutedUntil: new Date(now.getTime() - 1000) }, 'a', now), 'alert');
});

test('neverNotified holds exactly when decide answers none for every message the member did not send', () => {
  const future = new Date(now.getTime() + 1000);
  const past = new Date(now.getTime() - 1000);
  for (const level of ['all', 'mentions', 'none'] as const)
    for (const mutedUntil of [null, past, future])
      for (const active of [false, true]) {
        const standing = { userId: 'b', level, mutedUntil, active };
        const answers = [];
        for (const mentioned of [false, true]) for (const read of [false, true]) answers.push(decide({ ...standing, mentioned, read }, 'a', now));
        assert.equal(neverNotified(standing, now), answers.every((d) => d === 'none'), JSON.stringify({ level, mutedUntil, active, answers }));
      }
});
