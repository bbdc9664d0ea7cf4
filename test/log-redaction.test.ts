/**
 * Signed URLs and tokens never reach the logs: a real upload through a presigned URL (its
 * `sig`), a WebSocket `?token=` and S3-style `X-Amz-Signature` queries, logged at debug
 * level by the real server, appear with their credentials replaced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { call, signup, startTestServer } from './harness.js';
import { createLogger, redactSecrets } from '../src/logger.js';

test('redactSecrets replaces every credential-bearing query value and nothing else', () => {
  assert.equal(redactSecrets('/v1/blob/k?exp=1&sig=abc&ct=image%2Fpng'), '/v1/blob/k?exp=1&sig=[REDACTED]&ct=image%2Fpng');
  assert.equal(redactSecrets('/v1/ws?token=eyJ.x.y'), '/v1/ws?token=[REDACTED]');
  assert.equal(
    redactSecrets('https://s3/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=f00&x-amz-security-token=t&X-Amz-Date=1'),
    'https://s3/b/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&x-amz-security-token=[REDACTED]&X-Amz-Date=1',
  );
  assert.equal(redactSecrets('GET /v1/users?query=signature'), 'GET /v1/users?query=signature');
});

test('the server logs no signature or token of a real upload, download or WebSocket URL', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const s = await startTestServer({ logger: createLogger('debug', {}, sink) });
  try {
    const u = await signup(s.url, 'logs');
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#f00' } }).png().toBuffer();
    const t = await call(s.url, 'POST', '/v1/media/uploads', { token: u.accessToken, body: { filename: 'a.png', contentType: 'image/png', size: png.length } });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const sig = new URL(t.body.uploadUrl).searchParams.get('sig') ?? new URL(t.body.uploadUrl).searchParams.get('X-Amz-Signature');
    assert.ok(sig, t.body.uploadUrl);
    const put = await fetch(t.body.uploadUrl, { method: 'PUT', body: png, headers: t.body.uploadHeaders });
    assert.ok(put.status < 300, String(put.status));
    const done = await call(s.url, 'POST', `/v1/media/${t.body.mediaId}/complete`, { token: u.accessToken });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal((await fetch(done.body.url)).status, 200);
    const downloadSig = new URL(done.body.url).searchParams.get('sig') ?? new URL(done.body.url).searchParams.get('X-Amz-Signature');
    await fetch(`${s.url}/v1/ws?token=${u.accessToken}`);
    await call(s.url, 'GET', `/healthz?X-Amz-Signature=deadbeefdeadbeef&X-Amz-Credential=AKIDEXAMPLE`);

    const text = lines.join('\n');
    assert.match(text, /incoming request/, 'requests are logged at all');
    assert.match(text, /\[REDACTED\]/);
    for (const secret of [sig, downloadSig, u.accessToken, 'deadbeefdeadbeef', 'AKIDEXAMPLE']) {
      assert.ok(secret && !text.includes(secret), `a secret reached the log: ${secret?.slice(0, 12)}…`);
    }
  } finally {
    await s.stop();
  }
});
