/**
 * The web client's error words: every stable code of docs/errors.md (and the SDK's and
 * upload helper's local codes) has a human message, schema paths never reach the user,
 * and an empty file or a refused upload is explained.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ParleyError } from '../sdk/index.js';
import { UploadError } from '../sdk/upload.js';
import { ERROR_TEXT, humanError } from '../web/src/lib/errors.js';
import { ERROR_CATALOG } from '../src/errors.js';

test('every documented error code has human words', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
  assert.ok(documented.length >= 10);
  for (const code of [...documented, ...Object.keys(ERROR_CATALOG), 'network_error', 'timeout', 'disconnected']) {
    assert.ok(ERROR_TEXT[code], `no words for ${code}`);
    const text = humanError(new ParleyError(400, code, 'body/size must be >= 1'));
    assert.doesNotMatch(text, /body\/|must be >=/, `${code} leaks a schema message`);
    assert.ok(text.length > 10);
  }
});

test('messages meant for people pass through; the rest is replaced', () => {
  assert.equal(humanError(new ParleyError(409, 'conflict', 'That username is taken.')), 'That username is taken.');
  assert.equal(humanError(new ParleyError(500, 'internal', 'TypeError: x is undefined')), ERROR_TEXT.internal);
  assert.match(humanError(new ParleyError(429, 'rate_limited', 'slow down', 7)), /7 s/);
  assert.equal(humanError(new TypeError('Failed to fetch')), ERROR_TEXT.network_error);
});

test('uploads: empty, too large, refused by the storage, unreachable storage', () => {
  assert.match(humanError(new UploadError('create', 400, 'invalid_request', 'body/size must be >= 1')), /empty \(0 bytes\)/);
  assert.match(humanError(new UploadError('create', 413, 'payload_too_large', 'A image upload may be at most 1 bytes')), /too large/);
  assert.match(humanError(new UploadError('upload', 403, 'upload_failed', 'Upload refused (403 AccessDenied).')), /refused the upload \(403/);
  assert.match(humanError(new UploadError('upload', 0, 'network_error', 'The upload failed (network error).')), /CORS/);
});
