import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { contentDisposition } from '../../platform/blob/blob.port.js';
import { classifyContentType, dispositionType, sizeLimit, sniffMatches } from './media.policy.js';

test('declared types are normalised, classified, or refused', () => {
  assert.deepEqual(classifyContentType('image/png'), { ok: true, contentType: 'image/png', kind: 'image' });
  assert.deepEqual(classifyContentType(' Image/JPG ; q=1'), { ok: true, contentType: 'image/jpeg', kind: 'image' });
  assert.deepEqual(classifyContentType('audio/mp3'), { ok: true, contentType: 'audio/mpeg', kind: 'audio' });
  assert.deepEqual(classifyContentType('text/plain; charset=utf-8'), { ok: true, contentType: 'text/plain', kind: 'file' });
  assert.deepEqual(classifyContentType('video/quicktime'), { ok: true, contentType: 'video/quicktime', kind: 'video' });
  for (const t of ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/javascript', 'application/xml']) {
    assert.equal(classifyContentType(t).ok, false, t);
  }
  for (const t of ['', 'png', 'image/', '/png', 'a/b/c', 'image/p ng']) {
    assert.deepEqual(classifyContentType(t).ok ? 'accepted' : (classifyContentType(t) as { reason: string }).reason, 'malformed', t);
  }
});

test('sniffed bytes must match the declared class; text and unknown bytes only for files', async () => {
  const png = new Uint8Array(await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).png().toBuffer());
  const jpeg = new Uint8Array(await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).jpeg().toBuffer());
  const text = new TextEncoder().encode('plain words, ünïcode too');
  const sniff = async (b: Uint8Array) => (await fileTypeFromBuffer(b))?.mime;

  assert.equal(sniffMatches('image/png', await sniff(png), png), true);
  assert.equal(sniffMatches('image/png', await sniff(jpeg), jpeg), true, 'a mislabelled image is still an image');
  assert.equal(sniffMatches('image/png', await sniff(text), text), false, 'text is not an image');
  assert.equal(sniffMatches('video/mp4', await sniff(png), png), false);
  assert.equal(sniffMatches('audio/webm', 'video/webm', png), true, 'webm audio sniffs as video/webm');
  assert.equal(sniffMatches('text/plain', await sniff(text), text), true);
  assert.equal(sniffMatches('text/plain', await sniff(png), png), false);
  assert.equal(sniffMatches('text/plain', undefined, new Uint8Array([0x61, 0, 0x62])), false, 'NUL bytes are not text');
  assert.equal(sniffMatches('text/plain', undefined, new Uint8Array([0x61, 0xc3])), true, 'a character cut at the end of the prefix');
  assert.equal(sniffMatches('application/octet-stream', await sniff(png), png), true);
  assert.equal(sniffMatches('application/octet-stream', undefined, text), true);
  assert.equal(sniffMatches('text/html', undefined, text), false);
});

test('limits and disposition per class', () => {
  const cfg = { MEDIA_MAX_IMAGE_BYTES: 1, MEDIA_MAX_VIDEO_BYTES: 2, MEDIA_MAX_AUDIO_BYTES: 3, MEDIA_MAX_FILE_BYTES: 4 };
  assert.deepEqual((['image', 'video', 'audio', 'file'] as const).map((k) => sizeLimit(cfg, k)), [1, 2, 3, 4]);
  assert.deepEqual((['image', 'video', 'audio', 'file'] as const).map(dispositionType), ['inline', 'inline', 'inline', 'attachment']);
});

test('Content-Disposition cannot be broken out of by a hostile filename', () => {
  assert.equal(contentDisposition('inline', 'a.png'), `inline; filename="a.png"; filename*=UTF-8''a.png`);
  const v = contentDisposition('attachment', 'x";\r\n evil=1 ü/\\.txt');
  assert.equal(v, `attachment; filename="x_;__ evil=1 ___.txt"; filename*=UTF-8''x_%3B__%20evil%3D1%20%C3%BC__.txt`);
  assert.equal(/[\r\n]/.test(v), false);
});
