import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKeysetCursor, encodeKeysetCursor } from './keyset-cursor.js';
import { AppError } from '../errors.js';

const ID = '0123456789abcdef0123456789abcdef';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

test('a keyset cursor round-trips its time and id, from a Date or an ISO string', () => {
  const at = new Date('2026-12-07T15:04:05.678Z');
  assert.deepEqual(decodeKeysetCursor(encodeKeysetCursor(at, ID)), { at, id: ID });
  assert.deepEqual(decodeKeysetCursor(encodeKeysetCursor(at.toISOString(), ID)), { at, id: ID });
});

test('a cursor written with milliseconds (reports and search before) is still read', () => {
  const at = new Date('2026-01-02T03:04:05.006Z');
  assert.deepEqual(decodeKeysetCursor(b64([at.getTime(), ID])), { at, id: ID });
});

test('anything but [time, id] is invalid_request', () => {
  for (const raw of [
    'not base64 json',
    b64({ at: '2026-01-01T00:00:00Z', id: ID }),
    b64(['2026-01-01T00:00:00Z']),
    b64(['2026-01-01T00:00:00Z', ID, 'extra']),
    b64(['2026-01-01T00:00:00Z', 'NOT-AN-ID']),
    b64(['2026-01-01T00:00:00Z', 42]),
    b64(['yesterday', ID]),
    b64(['1999-12-31T23:59:59Z', ID]),
    b64([1.5, ID]),
    b64([null, ID]),
    b64(['2026-01-01T00:00:00Z'.padEnd(41, ' '), ID]),
  ]) {
    assert.throws(() => decodeKeysetCursor(raw), (e: unknown) => e instanceof AppError && e.code === 'invalid_request', raw);
  }
});
