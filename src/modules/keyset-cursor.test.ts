import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKeysetCursor, encodeKeysetCursor, keysetPage } from './keyset-cursor.js';
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

test('keysetPage: the first `limit` rows, and a cursor from the last of them only when there is more', () => {
  const rows = [1, 2, 3].map((n) => ({ at: new Date(Date.UTC(2026, 0, n)), id: ID.slice(0, 31) + n }));
  const more = keysetPage(rows, 2, (r) => [r.at, r.id]);
  assert.deepEqual(more.page, rows.slice(0, 2));
  assert.deepEqual(decodeKeysetCursor(more.nextCursor!), { at: rows[1]!.at, id: rows[1]!.id });
  assert.deepEqual(keysetPage(rows, 3, (r) => [r.at, r.id]), { page: rows, nextCursor: null });
});
