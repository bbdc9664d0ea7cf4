/**
 * The blob store contract: every adapter (S3, local) must pass it. It drives the adapter
 * the way clients do, over HTTP with the URLs it signs. Run from `test/media.test.ts`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { contentDisposition, type BlobStore } from './blob.port.js';

export interface BlobStoreFactory {
  /** An adapter reachable over HTTP (the local one's routes served by a running app). */
  open(): Promise<{ store: BlobStore; dispose(): Promise<void> }>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Flips the last character of the signature parameter, whatever the adapter calls it. */
function tamper(url: string): string {
  const u = new URL(url);
  const name = ['X-Amz-Signature', 'sig'].find((n) => u.searchParams.has(n));
  assert.ok(name, `URL carries a signature: ${url}`);
  const sig = u.searchParams.get(name)!;
  u.searchParams.set(name, sig.slice(0, -1) + (sig.at(-1) === 'A' || sig.at(-1) === '0' ? '1' : 'A'));
  return u.toString();
}

async function put(url: string, body: Uint8Array<ArrayBuffer>, headers: Record<string, string>): Promise<number> {
  const r = await fetch(url, { method: 'PUT', body, headers });
  await r.arrayBuffer();
  return r.status;
}

export function blobStoreContract(factory: BlobStoreFactory): void {
  let store: BlobStore;
  let dispose: () => Promise<void>;
  const prefix = `contract/${randomBytes(4).toString('hex')}`;
  const body = new Uint8Array(20_000).map((_, i) => (i * 31 + 7) & 0xff);

  before(async () => {
    ({ store, dispose } = await factory.open());
  });
  after(async () => {
    await dispose?.();
  });

  test('ping answers', async () => {
    await store.ping();
  });

  test('presigned upload, head, prefix, download with signed type/disposition, range', async () => {
    const key = `${prefix}/a.bin`;
    const up = await store.presignUpload(key, { contentType: 'image/png', contentLength: body.length, expiresInSeconds: 60 });
    assert.equal(up.method, 'PUT');
    assert.deepEqual(up.headers, { 'content-type': 'image/png' });
    assert.ok(up.expiresAt.getTime() > Date.now() + 50_000);
    assert.equal(await put(up.url, body, up.headers), 200);

    const head = await store.head(key);
    assert.equal(head?.size, body.length);
    if (head?.contentType) assert.equal(head.contentType, 'image/png');
    assert.deepEqual(await store.readPrefix(key, 16), body.slice(0, 16));
    assert.deepEqual(await store.readPrefix(key, 1_000_000), body);
    assert.deepEqual(await store.read(key), body);

    const disposition = contentDisposition('attachment', 'résumé "x".png');
    const url = await store.presignDownload(key, { expiresInSeconds: 60, contentType: 'application/octet-stream', contentDisposition: disposition });
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.equal(got.headers.get('content-disposition'), disposition);
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), body);

    const ranged = await fetch(url, { headers: { range: 'bytes=100-199' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), body.slice(100, 200));
  });

  test('an upload with another type or size than signed is refused and stores nothing', async () => {
    const key = `${prefix}/refused.bin`;
    const up = await store.presignUpload(key, { contentType: 'image/png', contentLength: body.length, expiresInSeconds: 60 });
    assert.equal(await put(up.url, body, { 'content-type': 'text/html' }), 403);
    const larger = new Uint8Array(body.length + 1);
    const smaller = body.slice(1);
    for (const b of [larger, smaller]) {
      const status = await put(up.url, b, up.headers);
      assert.ok(status >= 400 && status < 500, `size ${b.length} refused (${status})`);
    }
    assert.equal(await store.head(key), null);
  });

  test('tampered signatures are refused for upload and download', async () => {
    const key = `${prefix}/tamper.bin`;
    const up = await store.presignUpload(key, { contentType: 'application/pdf', contentLength: body.length, expiresInSeconds: 60 });
    assert.equal(await put(tamper(up.url), body, up.headers), 403);
    assert.equal(await store.head(key), null);
    // Changing a signed parameter (the length) is tampering too.
    const longer = new URL(up.url);
    if (longer.searchParams.has('len')) {
      longer.searchParams.set('len', String(body.length + 1));
      assert.equal(await put(longer.toString(), new Uint8Array(body.length + 1), up.headers), 403);
    }
    await store.put(key, body, 'application/pdf');
    const url = await store.presignDownload(key, { expiresInSeconds: 60, contentType: 'application/pdf', contentDisposition: 'inline' });
    const bad = await fetch(tamper(url));
    await bad.arrayBuffer();
    assert.equal(bad.status, 403);
    // The response headers are signed: asking for text/html instead is refused.
    const other = new URL(url);
    const typeParam = ['response-content-type', 'rct'].find((n) => other.searchParams.has(n));
    assert.ok(typeParam);
    other.searchParams.set(typeParam, 'text/html');
    const swapped = await fetch(other);
    await swapped.arrayBuffer();
    assert.equal(swapped.status, 403);
  });

  test('expired URLs are refused', async () => {
    const key = `${prefix}/expiry.bin`;
    await store.put(key, body, 'application/octet-stream');
    const url = await store.presignDownload(key, { expiresInSeconds: 1, contentType: 'application/octet-stream', contentDisposition: 'attachment' });
    const up = await store.presignUpload(`${key}.new`, { contentType: 'application/octet-stream', contentLength: body.length, expiresInSeconds: 1 });
    await sleep(2_100);
    const r = await fetch(url);
    await r.arrayBuffer();
    assert.equal(r.status, 403);
    assert.equal(await put(up.url, body, up.headers), 403);
    assert.equal(await store.head(`${key}.new`), null);
  });

  test('put, read, delete; missing objects are null and deleting twice is fine', async () => {
    const key = `${prefix}/thumb.webp`;
    await store.put(key, body.slice(0, 10), 'image/webp');
    assert.deepEqual(await store.read(key), body.slice(0, 10));
    assert.equal((await store.head(key))?.size, 10);
    await store.delete(key);
    await store.delete(key);
    assert.equal(await store.head(key), null);
    assert.equal(await store.read(key), null);
    assert.equal(await store.readPrefix(key, 10), null);
    const missing = await store.presignDownload(`${prefix}/never`, { expiresInSeconds: 60, contentType: 'image/png', contentDisposition: 'inline' });
    const r = await fetch(missing);
    await r.arrayBuffer();
    assert.equal(r.status, 404);
  });

  test('keys outside the strict shape are refused before touching storage', async () => {
    for (const key of ['../escape', '/abs', 'a/../../b', 'a//b', '.hidden', 'a b']) {
      await assert.rejects(store.head(key), /invalid blob key/);
    }
  });
}
