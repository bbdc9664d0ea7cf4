import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startS3Server, type S3TestServer } from './s3-server.js';

/** HTTP status of a failed SDK call (or undefined if it did not fail). */
async function sdkStatus(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
  }
}

/** Flips one hex digit of X-Amz-Signature. */
function tamper(url: string): string {
  const u = new URL(url);
  const sig = u.searchParams.get('X-Amz-Signature');
  assert.ok(sig && /^[0-9a-f]{64}$/.test(sig), `presigned URL has a SigV4 signature: ${url}`);
  const last = sig.at(-1) === '0' ? '1' : '0';
  u.searchParams.set('X-Amz-Signature', sig.slice(0, -1) + last);
  return u.toString();
}

describe('S3 test server (real S3 API, SigV4-checked)', () => {
  let s3: S3TestServer;
  let client: S3Client;

  before(async () => {
    s3 = await startS3Server();
    client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      // Presigned PUTs must not carry a checksum of the (empty) body the SDK saw at
      // signing time; see the adapter notes at the top of ./s3-server.ts.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
  });

  after(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('listens on loopback with the expected shape', () => {
    const u = new URL(s3.endpoint);
    if (!process.env.S3_TEST_ENDPOINT) assert.equal(u.hostname, '127.0.0.1');
    assert.ok(s3.bucket && s3.region && s3.accessKeyId && s3.secretAccessKey);
  });

  it('presigned PUT (signed Content-Type) + fetch, HEAD, presigned GET, delete', async () => {
    const key = `uploads/${Date.now()}/photo.png`;
    const body = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff);

    const putUrl = await getSignedUrl(
      client,
      new PutObjectCommand({ Bucket: s3.bucket, Key: key, ContentType: 'image/png' }),
      { expiresIn: 300, signableHeaders: new Set(['content-type']) },
    );
    const q = new URL(putUrl).searchParams;
    assert.equal(q.get('X-Amz-SignedHeaders'), 'content-type;host');
    assert.equal(q.get('x-amz-checksum-crc32'), null, 'no empty-body checksum in the presigned PUT');
    assert.ok(new URL(putUrl).pathname.startsWith(`/${s3.bucket}/`), 'path-style URL');

    // A different Content-Type than the signed one is refused.
    const wrongType = await fetch(putUrl, { method: 'PUT', body, headers: { 'content-type': 'text/html' } });
    await wrongType.arrayBuffer();
    assert.equal(wrongType.status, 403);

    const put = await fetch(putUrl, { method: 'PUT', body, headers: { 'content-type': 'image/png' } });
    assert.equal(put.status, 200, await put.text());

    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ContentType, 'image/png');

    const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: s3.bucket, Key: key }), {
      expiresIn: 300,
    });
    const got = await fetch(getUrl);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), body);

    // Ranged presigned GET (the Range header is not signed, so a browser can set it).
    const ranged = await fetch(getUrl, { headers: { range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), body.slice(10, 20));

    // Tampered signatures are refused, for GET and PUT.
    const badGet = await fetch(tamper(getUrl));
    assert.equal(badGet.status, 403, await badGet.text());
    const badPut = await fetch(tamper(putUrl), { method: 'PUT', body, headers: { 'content-type': 'image/png' } });
    assert.equal(badPut.status, 403, await badPut.text());

    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.equal(await sdkStatus(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))), 404);
    const gone = await fetch(getUrl);
    await gone.arrayBuffer();
    assert.equal(gone.status, 404);
  });

  it('refuses an expired presigned URL', async () => {
    const key = `expiry/${Date.now()}.txt`;
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'x', ContentType: 'text/plain' }));
    const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: s3.bucket, Key: key }), { expiresIn: 1 });
    const putUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: s3.bucket, Key: `${key}.new` }), {
      expiresIn: 1,
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const get = await fetch(getUrl);
    assert.equal(get.status, 403, 'expired GET');
    assert.match(await get.text(), /expired/i);
    const put = await fetch(putUrl, { method: 'PUT', body: 'y' });
    assert.equal(put.status, 403, 'expired PUT');
    assert.match(await put.text(), /expired/i);
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
  });

  it('refuses SDK requests signed with the wrong secret', async () => {
    const bad = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: `${s3.secretAccessKey}-wrong` },
      maxAttempts: 1,
    });
    try {
      const status = await sdkStatus(bad.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'nope', Body: 'x' })));
      assert.equal(status, 403);
    } finally {
      bad.destroy();
    }
  });

  it('SDK PutObject (default checksums, streamed body) and GetObject with Range', async () => {
    // Default client: CRC32 request checksums; a stream body goes as aws-chunked with a
    // trailer, whose chunks must be >= 8 KiB (except the last), hence requestStreamBufferSize.
    const sdk = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestStreamBufferSize: 64 * 1024,
      maxAttempts: 1,
    });
    const key = `sdk/${Date.now()}.bin`;
    try {
      const put = await sdk.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: key,
          Body: Readable.from([Buffer.from('hello '), Buffer.from('world')]),
          ContentLength: 11,
          ContentType: 'application/octet-stream',
        }),
      );
      assert.equal(put.$metadata.httpStatusCode, 200);
      assert.ok(put.ChecksumCRC32, 'server verified and echoed the CRC32');

      const part = await sdk.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key, Range: 'bytes=6-10' }));
      assert.equal(part.ContentRange, 'bytes 6-10/11');
      assert.equal(await part.Body?.transformToString(), 'world');

      // A wrong checksum is refused (400 BadDigest).
      const status = await sdkStatus(
        sdk.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${key}.bad`, Body: 'abc', ChecksumCRC32: 'AAAAAA==' })),
      );
      assert.equal(status, 400);

      await sdk.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
    } finally {
      sdk.destroy();
    }
  });
});
