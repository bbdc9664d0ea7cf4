/**
 * The Media service (flow 5) end to end, once against a real S3 API server (versitygw,
 * SigV4-checked, driven by the AWS SDK's presigned URLs) and once against the local
 * directory adapter (URLs signed and served by Parley). Users and tokens come from the
 * real server; the media routes run on their own app built the same way (createHttpApp +
 * the real auth hook) until the composition root wires the module.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig, type Config } from '../src/config.js';
import { createHttpApp, makeRequireAuth, type HttpApp } from '../src/gateway/http.js';
import { Metrics } from '../src/gateway/metrics.js';
import { createLogger } from '../src/logger.js';
import { createMediaModule, type MediaModule } from '../src/modules/media/media.module.js';
import { registerMediaJobHandlers } from '../src/workers/media-thumbnail.worker.js';
import { registerBlobRoutes } from '../src/modules/media/blob.routes.js';
import { blobStoreContract } from '../src/platform/blob/blob.contract.js';
import { LocalBlobStore } from '../src/platform/blob/blob.local.js';
import { S3BlobStore } from '../src/platform/blob/blob.s3.js';
import type { BlobStore } from '../src/platform/blob/blob.port.js';
import type { DeadJob, Job, JobHandler, JobKind, JobQueue } from '../src/platform/jobs/jobs.port.js';
import { AppError } from '../src/errors.js';
import { newId } from '../src/ids.js';
import { uploadMedia, type UploadProgress } from '../sdk/upload.js';
import { SQL_BACKENDS, TEST_JWT_SECRET, call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { startS3Server, type S3TestServer } from './support/s3-server.js';

type BlobBackend = 's3' | 'local';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs jobs in-process right after enqueue (with the port's handler signature), so a test
 * can wait for the thumbnail with `drain()`.
 */
class InlineJobs implements JobQueue {
  readonly enqueued: { kind: JobKind; id: string }[] = [];
  private readonly handlers = new Map<JobKind, JobHandler>();
  private readonly inflight = new Set<Promise<void>>();
  readonly failures: unknown[] = [];

  async enqueue<P>(kind: JobKind, payload: P, opts: { id?: string } = {}): Promise<string> {
    const id = opts.id ?? randomUUID();
    this.enqueued.push({ kind, id });
    const handler = this.handlers.get(kind);
    if (handler) {
      const job: Job = { id, kind, payload, attempt: 1, enqueuedAt: new Date().toISOString() };
      const p = handler(job, { once: async (_k, fn) => (await fn(), true) }).catch((err: unknown) => {
        this.failures.push(err);
      });
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
    return id;
  }
  async enqueueMany(jobs: readonly { kind: JobKind; payload: unknown; id?: string }[]): Promise<string[]> {
    return Promise.all(jobs.map((j) => this.enqueue(j.kind, j.payload, j.id ? { id: j.id } : {})));
  }
  async consume<P>(kind: JobKind, handler: JobHandler<P>): Promise<void> {
    this.handlers.set(kind, handler as JobHandler);
  }
  async deadLetters(): Promise<DeadJob[]> {
    return [];
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    await this.drain();
  }
  async drain(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }
}

async function png(width: number, height: number): Promise<Uint8Array<ArrayBuffer>> {
  const b = await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
  return new Uint8Array(b);
}

async function jpeg(width: number, height: number, orientation?: number): Promise<Uint8Array<ArrayBuffer>> {
  let img = sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 200 } } }).jpeg();
  if (orientation) img = img.withMetadata({ orientation });
  return new Uint8Array(await img.toBuffer());
}

const PDF = new TextEncoder().encode('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

interface Ticket {
  mediaId: string;
  uploadUrl: string;
  uploadMethod: string;
  uploadHeaders: Record<string, string>;
  expiresAt: string;
}

/** A media app (routes + module) on its own port, over the test server's database and auth. */
interface MediaApp {
  url: string;
  module: MediaModule;
  jobs: InlineJobs;
  http: HttpApp;
  close(): Promise<void>;
}

for (const backend of ['s3', 'local'] as BlobBackend[]) {
  // Spread the SQL backends over the two blob backends, so both are exercised.
  const sqlBackend = backend === 'local' ? SQL_BACKENDS[0]! : SQL_BACKENDS.at(-1)!;

  describe(`media: blob store contract (${backend})`, () => {
    let s3: S3TestServer | undefined;
    blobStoreContract({
      async open() {
        if (backend === 's3') {
          s3 = await startS3Server();
          const store = new S3BlobStore({
            bucket: s3.bucket,
            region: s3.region,
            endpoint: s3.endpoint,
            forcePathStyle: true,
            credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
          });
          return { store, dispose: async () => (await store.close(), await s3?.stop()) };
        }
        // The local adapter's URLs are served by Parley's routes: serve them from an app.
        const dir = mkdtempSync(join(tmpdir(), 'parley-blob-contract-'));
        const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }, { dotenvPath: null });
        const http = await createHttpApp({ config, logger: createLogger('silent'), metrics: new Metrics() });
        let base = '';
        const store = new LocalBlobStore({ root: join(dir, 'media'), secret: 'contract-secret-contract-secret-0123', baseUrl: () => base });
        registerBlobRoutes(http, store.signedUrls);
        await http.listen({ port: 0, host: '127.0.0.1' });
        base = `http://127.0.0.1:${(http.server.address() as { port: number }).port}`;
        return { store, dispose: async () => (await http.close(), rmSync(dir, { recursive: true, force: true })) };
      },
    });
  });

  describe(`media (${backend} storage, ${sqlBackend})`, () => {
    let s3: S3TestServer | undefined;
    let server: TestServer;
    let app: MediaApp;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    /** "userId:conversationId" pairs the fake membership check answers true for. */
    const members = new Set<string>();
    const apps: MediaApp[] = [];

    function mediaConfig(overrides: Record<string, string> = {}): Config {
      const env: Record<string, string> = {
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: server.dataDir,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        JWT_SECRET: TEST_JWT_SECRET,
        MEDIA_MAX_IMAGE_BYTES: String(2 * 1024 * 1024),
        ...(s3
          ? {
              S3_BUCKET: s3.bucket,
              S3_ENDPOINT: s3.endpoint,
              S3_REGION: s3.region,
              S3_ACCESS_KEY_ID: s3.accessKeyId,
              S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
              S3_FORCE_PATH_STYLE: 'true',
            }
          : {}),
        ...overrides,
      };
      return loadConfig(env, { dotenvPath: null });
    }

    async function startMediaApp(overrides: Record<string, string> = {}): Promise<MediaApp> {
      const config = mediaConfig(overrides);
      const jobs = new InlineJobs();
      const http = await createHttpApp({ config, logger: server.parley.logger, metrics: new Metrics() });
      const module = await createMediaModule({
        config,
        logger: server.parley.logger,
        sql: server.parley.platform.sql,
        jobs,
        isMember: async (userId, conversationId) => members.has(`${userId}:${conversationId}`),
      });
      module.registerRoutes(http, { requireAuth: makeRequireAuth(server.parley.services.auth) });
      await registerMediaJobHandlers(jobs, module.service);
      await http.listen({ port: 0, host: '127.0.0.1' });
      const a: MediaApp = {
        url: `http://127.0.0.1:${(http.server.address() as { port: number }).port}`,
        module,
        jobs,
        http,
        async close() {
          await module.stop();
          await jobs.close();
          await http.close();
        },
      };
      apps.push(a);
      return a;
    }

    before(async () => {
      if (backend === 's3') s3 = await startS3Server();
      server = await startTestServer({ sql: sqlBackend });
      app = await startMediaApp();
      [alice, bob, carol] = await Promise.all([signup(server.url, 'alice'), signup(server.url, 'bob'), signup(server.url, 'carol')]);
    });
    after(async () => {
      for (const a of apps) await a.close();
      await server?.stop();
      await s3?.stop();
    });

    const blobs = (): BlobStore => app.module.blobs;

    async function objectKeyOf(mediaId: string): Promise<string | undefined> {
      const { rows } = await server.parley.platform.sql.query<{ object_key: string }>('SELECT object_key FROM media WHERE id = $1', [mediaId]);
      return rows[0]?.object_key;
    }

    async function ticket(user: TestUser, body: { filename: string; contentType: string; size: number }, a = app): Promise<Ticket> {
      const r = await call(a.url, 'POST', '/v1/media/uploads', { token: user.accessToken, body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as Ticket;
    }

    async function put(t: Ticket, bytes: Uint8Array<ArrayBuffer>, headers = t.uploadHeaders): Promise<number> {
      const r = await fetch(t.uploadUrl, { method: t.uploadMethod, body: bytes, headers });
      await r.arrayBuffer();
      return r.status;
    }

    /** Ticket, PUT, complete: the media (asserting every step succeeded). */
    async function upload(user: TestUser, bytes: Uint8Array<ArrayBuffer>, contentType: string, filename = 'file', a = app) {
      const t = await ticket(user, { filename, contentType, size: bytes.length }, a);
      assert.equal(await put(t, bytes), 200);
      const done = await call(a.url, 'POST', `/v1/media/${t.mediaId}/complete`, { token: user.accessToken });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      return done.body;
    }

    test('an image upload through the presigned URL gets its dimensions and a thumbnail', async () => {
      const bytes = await png(640, 480);
      const t = await ticket(alice, { filename: 'holiday.png', contentType: 'image/png', size: bytes.length });
      assert.equal(t.uploadMethod, 'PUT');
      assert.deepEqual(t.uploadHeaders, { 'content-type': 'image/png' });
      assert.ok(Date.parse(t.expiresAt) > Date.now());
      if (backend === 's3') {
        const q = new URL(t.uploadUrl).searchParams;
        assert.equal(q.get('X-Amz-SignedHeaders'), 'content-length;content-type;host', 'type and size are signed');
        assert.equal(q.get('x-amz-checksum-crc32'), null, 'no checksum of an empty body in the URL');
        assert.ok(t.uploadUrl.startsWith(`${s3!.endpoint}/${s3!.bucket}/media/`), 'straight to the store');
      } else {
        assert.ok(t.uploadUrl.startsWith(`${app.url}/v1/blobs/media/`), 'served by Parley');
      }
      // Pending: the owner sees it without URLs; nobody else sees it.
      const pending = await call(app.url, 'GET', `/v1/media/${t.mediaId}`, { token: alice.accessToken });
      assert.equal(pending.body.status, 'pending');
      assert.equal(pending.body.url, undefined);

      assert.equal(await put(t, bytes), 200);
      const done = await call(app.url, 'POST', `/v1/media/${t.mediaId}/complete`, { token: alice.accessToken });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      const m = done.body;
      assert.equal(m.id, t.mediaId);
      assert.equal(m.ownerId, alice.id);
      assert.equal(m.filename, 'holiday.png');
      assert.equal(m.contentType, 'image/png');
      assert.equal(m.kind, 'image');
      assert.equal(m.status, 'ready');
      assert.equal(m.size, bytes.length);
      assert.equal(m.width, 640);
      assert.equal(m.height, 480);
      assert.ok(Date.parse(m.createdAt));

      const got = await fetch(m.url);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), 'image/png');
      assert.match(got.headers.get('content-disposition') ?? '', /^inline; filename="holiday.png"/);
      assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bytes);

      await app.jobs.drain();
      assert.deepEqual(app.jobs.failures, []);
      assert.deepEqual(app.jobs.enqueued.filter((j) => j.id === `media.thumbnail:${m.id}`).length, 1);
      const again = await call(app.url, 'GET', `/v1/media/${m.id}`, { token: alice.accessToken });
      assert.ok(again.body.thumbnailUrl, 'thumbnail made by the job');
      const thumb = await fetch(again.body.thumbnailUrl);
      assert.equal(thumb.status, 200);
      assert.equal(thumb.headers.get('content-type'), 'image/webp');
      const meta = await sharp(new Uint8Array(await thumb.arrayBuffer())).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 320, 240]);
      // Stored beside the original.
      const key = await objectKeyOf(m.id);
      assert.ok(await blobs().head(`${key}.thumb.webp`));
    });

    test('completing twice returns the same media; EXIF orientation is applied to dimensions', async () => {
      const bytes = await jpeg(300, 100, 6);
      const first = await upload(alice, bytes, 'image/jpeg', 'rotated.jpg');
      assert.deepEqual([first.width, first.height], [100, 300]);
      const second = await call(app.url, 'POST', `/v1/media/${first.id}/complete`, { token: alice.accessToken });
      assert.equal(second.status, 200);
      assert.deepEqual({ ...second.body, url: undefined, thumbnailUrl: undefined, urlExpiresAt: undefined }, { ...first, url: undefined, thumbnailUrl: undefined, urlExpiresAt: undefined });
      await app.jobs.drain();
      const thumb = await fetch((await call(app.url, 'GET', `/v1/media/${first.id}`, { token: alice.accessToken })).body.thumbnailUrl);
      const meta = await sharp(new Uint8Array(await thumb.arrayBuffer())).metadata();
      assert.deepEqual([meta.width, meta.height], [100, 300], 'thumbnail upright');
      // Someone else completing it learns nothing.
      const foreign = await call(app.url, 'POST', `/v1/media/${first.id}/complete`, { token: bob.accessToken });
      assert.equal(foreign.status, 404);
    });

    test('bytes that do not match the declared type are refused and the object removed', async () => {
      const cases: { contentType: string; bytes: Uint8Array<ArrayBuffer>; why: RegExp }[] = [
        { contentType: 'image/png', bytes: new Uint8Array(PDF), why: /application\/pdf data.*image\/png/ },
        { contentType: 'image/png', bytes: new TextEncoder().encode('just some text, not an image at all'), why: /no recognised format.*image\/png/ },
        { contentType: 'video/mp4', bytes: await png(20, 20), why: /image\/png data.*video\/mp4/ },
        { contentType: 'application/pdf', bytes: await png(20, 20), why: /image\/png data.*application\/pdf/ },
        { contentType: 'text/plain', bytes: await png(20, 20), why: /image\/png data.*text\/plain/ },
        { contentType: 'text/plain', bytes: new Uint8Array([0x68, 0x69, 0x00, 0x01, 0xff, 0xfe, 0x00]), why: /no recognised format.*text\/plain/ },
      ];
      for (const c of cases) {
        const t = await ticket(alice, { filename: 'x', contentType: c.contentType, size: c.bytes.length });
        assert.equal(await put(t, c.bytes), 200);
        const key = await objectKeyOf(t.mediaId);
        assert.ok(key && (await blobs().head(key)), 'uploaded');
        const r = await call(app.url, 'POST', `/v1/media/${t.mediaId}/complete`, { token: alice.accessToken });
        assert.equal(r.status, 400, `${c.contentType}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'invalid_request');
        assert.match(r.body.error.message, c.why);
        assert.equal(await blobs().head(key), null, 'object removed');
        assert.equal(await objectKeyOf(t.mediaId), undefined, 'record removed');
        assert.equal((await call(app.url, 'GET', `/v1/media/${t.mediaId}`, { token: alice.accessToken })).status, 404);
      }
      // What matches is accepted: a PDF, plain text, anything as octet-stream.
      assert.equal((await upload(alice, new Uint8Array(PDF), 'application/pdf', 'doc.pdf')).kind, 'file');
      const text = await upload(alice, new TextEncoder().encode('héllo wörld\n'), 'text/plain; charset=utf-8', 'notes.txt');
      assert.equal(text.contentType, 'text/plain');
      const got = await fetch(text.url);
      assert.match(got.headers.get('content-disposition') ?? '', /^attachment;/, 'files download, never render');
      assert.equal(await got.text(), 'héllo wörld\n');
      assert.equal((await upload(alice, await png(8, 8), 'application/octet-stream', 'blob.bin')).kind, 'file');
    });

    test('an object larger than declared, or over the limit, is refused and removed', async () => {
      const bytes = await png(64, 64);
      const t = await ticket(alice, { filename: 'a.png', contentType: 'image/png', size: bytes.length });
      // The store itself refuses a body of another size than signed...
      const bigger = new Uint8Array(bytes.length + 10);
      bigger.set(bytes);
      const refused = await put(t, bigger);
      assert.ok(refused === 403 || refused === 400, `bigger body refused by the store (${refused})`);
      const key = (await objectKeyOf(t.mediaId))!;
      assert.equal(await blobs().head(key), null);
      // ...and completion finds nothing yet: the upload stays pending and can be retried.
      const early = await call(app.url, 'POST', `/v1/media/${t.mediaId}/complete`, { token: alice.accessToken });
      assert.equal(early.status, 400);
      assert.match(early.body.error.message, /Nothing has been uploaded/);
      // A store that does not enforce the signed length: completion checks the real size.
      await blobs().put(key, bigger, 'image/png');
      const r = await call(app.url, 'POST', `/v1/media/${t.mediaId}/complete`, { token: alice.accessToken });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error.message, new RegExp(`${bigger.length} bytes; ${bytes.length} were declared`));
      assert.equal(await blobs().head(key), null, 'object removed');
      assert.equal(await objectKeyOf(t.mediaId), undefined);

      // Over the class limit (2 MiB for images here) at the request: 413, nothing stored.
      const over = await call(app.url, 'POST', '/v1/media/uploads', { token: alice.accessToken, body: { filename: 'big.png', contentType: 'image/png', size: 2 * 1024 * 1024 + 1 } });
      assert.equal(over.status, 413);
      assert.equal(over.body.error.code, 'payload_too_large');
      // The same size is fine as a file (100 MiB default).
      assert.equal((await call(app.url, 'POST', '/v1/media/uploads', { token: alice.accessToken, body: { filename: 'big.bin', contentType: 'application/octet-stream', size: 2 * 1024 * 1024 + 1 } })).status, 201);
      // Over the limit at completion (declared small, stored huge): 413 and removed.
      const small = await ticket(alice, { filename: 'b.png', contentType: 'image/png', size: 100 });
      const smallKey = (await objectKeyOf(small.mediaId))!;
      await blobs().put(smallKey, new Uint8Array(2 * 1024 * 1024 + 5), 'image/png');
      const huge = await call(app.url, 'POST', `/v1/media/${small.mediaId}/complete`, { token: alice.accessToken });
      assert.equal(huge.status, 413);
      assert.equal(await blobs().head(smallKey), null);
    });

    test('disallowed or malformed types are refused with 400', async () => {
      for (const contentType of ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'application/javascript', 'application/x-msdownload', 'nonsense', 'image/', 'a/b/c']) {
        const r = await call(app.url, 'POST', '/v1/media/uploads', { token: alice.accessToken, body: { filename: 'x', contentType, size: 10 } });
        assert.equal(r.status, 400, contentType);
        assert.equal(r.body.error.code, 'invalid_request');
      }
      for (const body of [{ filename: '', contentType: 'image/png', size: 1 }, { filename: 'a', contentType: 'image/png', size: 0 }, { filename: 'a', contentType: 'image/png', size: '12' }, { filename: 'a\u0000b', contentType: 'image/png', size: 1 }, {}]) {
        const r = await call(app.url, 'POST', '/v1/media/uploads', { token: alice.accessToken, body });
        assert.equal(r.status, 400, JSON.stringify(body));
      }
      // Common aliases are normalised.
      const t = await ticket(alice, { filename: 'a.jpg', contentType: 'IMAGE/JPG', size: 10 });
      assert.deepEqual(t.uploadHeaders, { 'content-type': 'image/jpeg' });
      assert.equal((await call(app.url, 'POST', '/v1/media/uploads', { body: { filename: 'x', contentType: 'image/png', size: 1 } })).status, 401);
    });

    test('only the owner and members of a conversation where it was posted get URLs', async () => {
      const m = await upload(alice, await png(10, 10), 'image/png', 'secret.png');
      const conv = `conv_${randomUUID()}`;
      members.add(`${alice.id}:${conv}`).add(`${bob.id}:${conv}`);
      const missing = await call(app.url, 'GET', `/v1/media/${newId()}`, { token: carol.accessToken });
      assert.equal(missing.status, 404);

      // Not posted anywhere yet: bob (a member of the conversation) sees nothing either.
      for (const u of [bob, carol]) {
        const r = await call(app.url, 'GET', `/v1/media/${m.id}`, { token: u.accessToken });
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, missing.body, 'indistinguishable from media that does not exist');
        assert.equal(JSON.stringify(r.body).includes('http'), false, 'no URL leaks');
      }

      // The messages service checks attachments, then records the post.
      const attached = await app.module.service.attachable(alice.id, [m.id]);
      assert.equal(attached[0]!.id, m.id);
      await app.module.service.recordPosted(conv, [m.id]);
      await app.module.service.recordPosted(conv, [m.id]); // idempotent
      const asBob = await call(app.url, 'GET', `/v1/media/${m.id}`, { token: bob.accessToken });
      assert.equal(asBob.status, 200);
      assert.ok(asBob.body.url);
      assert.equal((await fetch(asBob.body.url)).status, 200);
      const asCarol = await call(app.url, 'GET', `/v1/media/${m.id}`, { token: carol.accessToken });
      assert.equal(asCarol.status, 404, 'a non-member gets no URL');
      assert.equal(asCarol.body.error.code, 'not_found');
      // Bob leaves: no more URLs for him.
      members.delete(`${bob.id}:${conv}`);
      assert.equal((await call(app.url, 'GET', `/v1/media/${m.id}`, { token: bob.accessToken })).status, 404);
      assert.equal((await call(app.url, 'GET', `/v1/media/${m.id}`)).status, 401);
    });

    test('an expired download URL no longer works', async () => {
      // 2 s rather than 1: S3 signs with whole seconds, so a 1 s URL may live only a few ms.
      const short = await startMediaApp({ MEDIA_DOWNLOAD_URL_TTL: '2s' });
      const m = await upload(alice, await png(12, 12), 'image/png', 'brief.png', short);
      assert.ok(Date.parse(m.urlExpiresAt) - Date.now() <= 2_000);
      const fresh = await fetch(m.url);
      await fresh.arrayBuffer();
      assert.equal(fresh.status, 200);
      await sleep(3_100);
      const stale = await fetch(m.url);
      await stale.arrayBuffer();
      assert.equal(stale.status, 403);
      // Asking again gives a new URL that works.
      const again = await call(short.url, 'GET', `/v1/media/${m.id}`, { token: alice.accessToken });
      assert.notEqual(again.body.url, m.url);
      const ok = await fetch(again.body.url);
      await ok.arrayBuffer();
      assert.equal(ok.status, 200);
    });

    test('never-completed uploads are deleted by the periodic cleanup; completed ones stay', async () => {
      const quick = await startMediaApp({ MEDIA_PENDING_TTL: '3s' });
      const bytes = await png(16, 16);
      const abandoned = await ticket(alice, { filename: 'left.png', contentType: 'image/png', size: bytes.length }, quick);
      assert.ok(Date.parse(abandoned.expiresAt) - Date.now() <= 3_000, 'upload URL lives no longer than the pending record');
      assert.equal(await put(abandoned, bytes), 200);
      const neverUploaded = await ticket(alice, { filename: 'none.png', contentType: 'image/png', size: bytes.length }, quick);
      const kept = await upload(alice, bytes, 'image/png', 'kept.png', quick);
      const key = (await objectKeyOf(abandoned.mediaId))!;
      assert.ok(await blobs().head(key));

      quick.module.startCleanup();
      const deadline = Date.now() + 20_000;
      // The cleanup deletes the record, then the object: wait for both (the object a moment after).
      while (((await objectKeyOf(abandoned.mediaId)) !== undefined || (await blobs().head(key)) !== null) && Date.now() < deadline) await sleep(200);
      assert.equal(await objectKeyOf(abandoned.mediaId), undefined, 'record deleted');
      assert.equal(await objectKeyOf(neverUploaded.mediaId), undefined);
      assert.equal(await blobs().head(key), null, 'object deleted');
      const late = await call(quick.url, 'POST', `/v1/media/${abandoned.mediaId}/complete`, { token: alice.accessToken });
      assert.equal(late.status, 404);
      assert.ok(await objectKeyOf(kept.id), 'completed media untouched');
      assert.equal((await call(quick.url, 'GET', `/v1/media/${kept.id}`, { token: alice.accessToken })).body.status, 'ready');
    });

    test('hooks for the chat core: attachable, expand, avatars', async () => {
      const svc = app.module.service;
      const a = await upload(alice, await png(30, 20), 'image/png', 'a.png');
      const b = await upload(alice, new Uint8Array(PDF), 'application/pdf', 'b.pdf');
      const pending = await ticket(alice, { filename: 'p.png', contentType: 'image/png', size: 10 });
      const bobs = await upload(bob, await png(5, 5), 'image/png', 'bob.png');

      const got = await svc.attachable(alice.id, [b.id, a.id]);
      assert.deepEqual(got.map((m) => m.id), [b.id, a.id], 'given order');
      assert.ok(got.every((m) => m.url));
      for (const ids of [[a.id, bobs.id], [pending.mediaId], ['nope']]) {
        await assert.rejects(svc.attachable(alice.id, ids), (err: unknown) => err instanceof AppError && err.code === 'invalid_request');
      }
      assert.deepEqual(await svc.attachable(alice.id, []), []);

      const expanded = await svc.expand([a.id, 'missing', pending.mediaId, bobs.id]);
      assert.deepEqual(expanded.map((m) => m.id), [a.id, bobs.id]);
      assert.ok(expanded.every((m) => m.url));

      // Avatars: only your own completed images.
      for (const id of [b.id, bobs.id, pending.mediaId, 'nope']) {
        await assert.rejects(svc.validateAvatar(alice.id, id), (err: unknown) => err instanceof AppError && err.code === 'invalid_request');
      }
      const avatarUrl = svc.avatarUrl(a.id)!;
      assert.equal(avatarUrl, `${app.url}/v1/media/${a.id}/avatar`);
      // Not an avatar yet: the public route does not serve it.
      assert.equal((await fetch(avatarUrl, { redirect: 'manual' })).status, 404);
      await svc.validateAvatar(alice.id, a.id);
      await app.jobs.drain();
      const redirect = await fetch(avatarUrl, { redirect: 'manual' });
      assert.equal(redirect.status, 302);
      assert.match(redirect.headers.get('cache-control') ?? '', /max-age=\d+/);
      const image = await fetch(avatarUrl); // no token: <img src> works
      assert.equal(image.status, 200);
      assert.equal(image.headers.get('content-type'), 'image/webp', 'the thumbnail by default');
      const full = await fetch(`${avatarUrl}?size=full`);
      assert.equal(full.headers.get('content-type'), 'image/png');
      assert.equal((await fetch(`${app.url}/v1/media/${b.id}/avatar`, { redirect: 'manual' })).status, 404);
    });

    test('the SDK helper uploads with progress events (streamed fetch in Node)', async () => {
      const bytes = await png(800, 600);
      const big = new Uint8Array(300_000);
      big.set(bytes);
      const events: UploadProgress[] = [];
      const api = { baseUrl: app.url, accessToken: async () => alice.accessToken };
      const m = await uploadMedia(api, new Blob([bytes], { type: 'image/png' }), { filename: 'sdk.png', onProgress: (p) => events.push(p) });
      assert.equal(m.width, 800);
      assert.equal(m.contentType, 'image/png');
      assert.deepEqual(events[0], { loaded: 0, total: bytes.length });
      assert.deepEqual(events.at(-1), { loaded: bytes.length, total: bytes.length });
      assert.ok(events.every((e, i) => i === 0 || e.loaded >= events[i - 1]!.loaded), 'monotonic');

      // Uint8Array input, many chunks.
      const fileEvents: UploadProgress[] = [];
      const f = await uploadMedia(api, big, { filename: 'data.bin', onProgress: (p) => fileEvents.push(p) });
      assert.equal(f.size, big.length);
      assert.equal(f.contentType, 'application/octet-stream');
      assert.ok(fileEvents.length >= 5, `progress while streaming (${fileEvents.length} events)`);

      // Refusals surface as UploadError with the server's code.
      await assert.rejects(uploadMedia(api, new TextEncoder().encode('<html></html>'), { contentType: 'text/html' }), { name: 'UploadError', code: 'invalid_request', status: 400 });
      await assert.rejects(uploadMedia(api, new TextEncoder().encode('not a png'), { contentType: 'image/png' }), { name: 'UploadError', step: 'complete', status: 400 });
    });

    test('the SDK helper uses XMLHttpRequest where it exists (browsers)', async () => {
      const calls: { method: string; url: string; headers: Record<string, string> }[] = [];
      // A minimal XMLHttpRequest stand-in that performs the request with fetch.
      class FakeXhr {
        status = 0;
        responseText = '';
        upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
        onload: (() => void) | null = null;
        onerror: (() => void) | null = null;
        onabort: (() => void) | null = null;
        private method = '';
        private url = '';
        private headers: Record<string, string> = {};
        open(method: string, url: string) {
          this.method = method;
          this.url = url;
        }
        setRequestHeader(k: string, v: string) {
          this.headers[k] = v;
        }
        abort() {
          this.onabort?.();
        }
        send(body: Blob) {
          calls.push({ method: this.method, url: this.url, headers: { ...this.headers } });
          void (async () => {
            this.upload.onprogress?.({ loaded: Math.floor(body.size / 2), total: body.size, lengthComputable: true });
            const r = await fetch(this.url, { method: this.method, headers: this.headers, body });
            this.status = r.status;
            this.responseText = await r.text();
            this.upload.onprogress?.({ loaded: body.size, total: body.size, lengthComputable: true });
            this.onload?.();
          })().catch(() => this.onerror?.());
        }
      }
      const g = globalThis as { XMLHttpRequest?: unknown };
      g.XMLHttpRequest = FakeXhr;
      try {
        const bytes = await png(40, 30);
        const events: UploadProgress[] = [];
        const m = await uploadMedia({ baseUrl: app.url, accessToken: () => alice.accessToken }, new Blob([bytes], { type: 'image/png' }), { onProgress: (p) => events.push(p) });
        assert.equal(m.width, 40);
        assert.equal(calls.length, 1);
        assert.equal(calls[0]!.method, 'PUT');
        assert.deepEqual(calls[0]!.headers, { 'content-type': 'image/png' });
        assert.deepEqual(events.map((e) => e.loaded), [0, Math.floor(bytes.length / 2), bytes.length, bytes.length]);
      } finally {
        delete g.XMLHttpRequest;
      }
    });
  });
}

describe('media: S3 download URLs through S3_PUBLIC_URL', () => {
  test('the CDN base replaces the endpoint origin; the signed path and query stay', async () => {
    const store = new S3BlobStore({
      bucket: 'media-bucket',
      region: 'us-east-1',
      endpoint: 'http://minio.internal:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example-secret-example' },
      publicUrl: 'https://cdn.example.com/assets/',
    });
    try {
      const url = new URL(await store.presignDownload('media/abc', { expiresInSeconds: 60, contentType: 'image/png', contentDisposition: 'inline' }));
      assert.equal(url.origin, 'https://cdn.example.com');
      assert.equal(url.pathname, '/assets/media-bucket/media/abc');
      assert.ok(url.searchParams.get('X-Amz-Signature'));
      assert.equal(url.searchParams.get('response-content-type'), 'image/png');
      // Uploads go to the store itself.
      const up = await store.presignUpload('media/abc', { contentType: 'image/png', contentLength: 5, expiresInSeconds: 60 });
      assert.equal(new URL(up.url).origin, 'http://minio.internal:9000');
    } finally {
      await store.close();
    }
  });
});
