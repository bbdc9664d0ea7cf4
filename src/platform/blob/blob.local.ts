/**
 * The local blob adapter (embedded profile): objects are files under `DATA_DIR/media`, and
 * Parley itself plays the object store's part. Upload and download URLs point at Parley's
 * own `/v1/blobs/<key>` routes and carry an HMAC-SHA256 signature over the method, key,
 * expiry and the parameters they allow (the exact Content-Type and Content-Length of an
 * upload; the Content-Type and Content-Disposition of a download), so they behave like S3
 * presigned URLs: no bearer token, refused (403) once expired or altered.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, forbidden, invalid, notFound } from '../../errors.js';
import {
  BLOB_KEY_PATTERN,
  assertBlobKey,
  type BlobHead,
  type BlobStore,
  type DownloadRequest,
  type PresignedUpload,
  type SignedDownload,
  type SignedQuery,
  type SignedUrlServer,
  type UploadRequest,
} from './blob.port.js';

export interface LocalBlobOptions {
  /** Directory holding the objects (created if missing). */
  root: string;
  /** HMAC key for URL signatures; every process serving the same directory must share it. */
  secret: string;
  /** External base URL of this Parley, e.g. https://chat.example.com (read at signing time). */
  baseUrl: () => string;
}

/** Where temporary upload files live: a dot-segment, which no key can start with. */
const TMP_DIR = '.uploads';

/** Unix time in milliseconds after which a URL stops working (S3's whole seconds would cut a 1 s URL short). */
function expiryFor(ttlSeconds: number): string {
  return String(Date.now() + Math.round(Math.max(1, ttlSeconds) * 1000));
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'ENOENT';
}

/** Parses one `bytes=a-b` / `bytes=a-` / `bytes=-n` range; undefined means "serve it all". */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Several ranges or another unit: RFC 9110 lets a server ignore Range.
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}

export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  private readonly root: string;
  private readonly secret: string;
  private readonly baseUrl: () => string;

  constructor(opts: LocalBlobOptions) {
    this.root = opts.root;
    this.secret = opts.secret;
    this.baseUrl = opts.baseUrl;
  }

  private pathOf(key: string): string {
    assertBlobKey(key);
    return join(this.root, ...key.split('/'));
  }

  private sign(parts: readonly string[]): string {
    return createHmac('sha256', this.secret).update(JSON.stringify(parts)).digest('base64url');
  }

  private urlFor(key: string, params: Record<string, string>): string {
    const base = this.baseUrl().replace(/\/+$/, '');
    return `${base}/v1/blobs/${key}?${new URLSearchParams(params).toString()}`;
  }

  /** Verifies signature then expiry; every failure is the same kind of 403 as S3's. */
  private verify(parts: readonly string[], exp: string | undefined, sig: string | undefined): void {
    if (!sig || !exp || !/^\d{1,15}$/.test(exp)) throw forbidden('Missing or malformed URL signature.');
    const expected = Buffer.from(this.sign(parts));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw forbidden('The URL signature does not match.');
    if (Number(exp) < Date.now()) throw forbidden('The URL has expired.');
  }

  async presignUpload(key: string, req: UploadRequest): Promise<PresignedUpload> {
    assertBlobKey(key);
    const exp = expiryFor(req.expiresInSeconds);
    const len = String(req.contentLength);
    const sig = this.sign(['PUT', key, exp, req.contentType, len]);
    return {
      url: this.urlFor(key, { exp, ct: req.contentType, len, sig }),
      method: 'PUT',
      headers: { 'content-type': req.contentType },
      expiresAt: new Date(Number(exp)),
    };
  }

  async presignDownload(key: string, req: DownloadRequest): Promise<string> {
    assertBlobKey(key);
    const exp = expiryFor(req.expiresInSeconds);
    const sig = this.sign(['GET', key, exp, req.contentType, req.contentDisposition]);
    return this.urlFor(key, { exp, rct: req.contentType, rcd: req.contentDisposition, sig });
  }

  async head(key: string): Promise<BlobHead | null> {
    const path = this.pathOf(key);
    try {
      const st = await stat(path);
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw new AppError('unavailable', 'Local media storage failed.', { cause: err });
    }
  }

  async readPrefix(key: string, length: number): Promise<Uint8Array | null> {
    const path = this.pathOf(key);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw new AppError('unavailable', 'Local media storage failed.', { cause: err });
    }
    try {
      const buf = Buffer.alloc(Math.max(0, length));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async read(key: string): Promise<Uint8Array | null> {
    const path = this.pathOf(key);
    try {
      return new Uint8Array(await readFile(path));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw new AppError('unavailable', 'Local media storage failed.', { cause: err });
    }
  }

  async put(key: string, body: Uint8Array, _contentType: string): Promise<void> {
    const dest = this.pathOf(key);
    const tmp = await this.tmpPath();
    try {
      await writeFile(tmp, body, { mode: 0o600, flag: 'wx' });
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new AppError('unavailable', 'Local media storage failed.', { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async ping(): Promise<void> {
    await mkdir(join(this.root, TMP_DIR), { recursive: true });
  }

  async close(): Promise<void> {}

  private async tmpPath(): Promise<string> {
    const dir = join(this.root, TMP_DIR);
    await mkdir(dir, { recursive: true });
    return join(dir, randomUUID());
  }

  /**
   * Streams a signed upload to a temporary file and renames it into place only when all
   * of it arrived, so a cut-off upload never shows up as an object.
   */
  private async receive(key: string, body: Readable, expected: number): Promise<void> {
    const tmp = await this.tmpPath();
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > expected) cb(new AppError('payload_too_large', `The body is larger than the signed ${expected} bytes.`));
        else cb(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      if (seen !== expected) throw invalid(`The body has ${seen} bytes; the URL was signed for ${expected}.`);
      const dest = this.pathOf(key);
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      if (err instanceof AppError) throw err;
      // The client went away mid-body (premature close): nothing was stored.
      throw invalid('The upload was interrupted.');
    }
  }

  /** The serving side of this adapter's signed URLs (`/v1/blobs/<key>`, routed by the media module). */
  readonly signedUrls: SignedUrlServer = {
    acceptUpload: (key, q, headers, body) => this.acceptUpload(key, q, headers, body),
    openDownload: (key, q, range) => this.openDownload(key, q, range),
  };

  private async acceptUpload(key: string, q: SignedQuery, headers: { contentType?: string; contentLength?: string }, body: Readable): Promise<void> {
    if (!BLOB_KEY_PATTERN.test(key)) throw notFound();
    const ct = q.ct ?? '';
    const len = q.len ?? '';
    this.verify(['PUT', key, q.exp ?? '', ct, len], q.exp, q.sig);
    // Like a presigned PUT whose content-type and content-length are signed headers.
    if ((headers.contentType ?? '') !== ct) throw forbidden('Content-Type differs from the signed one.');
    if (headers.contentLength === undefined) throw invalid('Content-Length is required.');
    if (headers.contentLength !== len) throw forbidden('Content-Length differs from the signed one.');
    await this.receive(key, body, Number(len));
  }

  private async openDownload(key: string, q: SignedQuery, rangeHeader: string | undefined): Promise<SignedDownload> {
    if (!BLOB_KEY_PATTERN.test(key)) throw notFound();
    const rct = q.rct ?? '';
    const rcd = q.rcd ?? '';
    this.verify(['GET', key, q.exp ?? '', rct, rcd], q.exp, q.sig);
    const path = this.pathOf(key);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if (isNotFound(err)) throw notFound('No such object.');
      throw err;
    }
    // Served from Parley's own origin: never let an upload be sniffed or run as a page.
    const headers: Record<string, string> = {
      'content-type': rct,
      'content-disposition': rcd,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
      'cache-control': `private, max-age=${Math.max(0, Math.floor((Number(q.exp) - Date.now()) / 1000))}`,
      'accept-ranges': 'bytes',
    };
    const range = parseRange(rangeHeader, size);
    if (range === 'unsatisfiable') return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` }, body: null };
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['content-length'] = String(range.end - range.start + 1);
      return { status: 206, headers, body: createReadStream(path, { start: range.start, end: range.end }) };
    }
    headers['content-length'] = String(size);
    return { status: 200, headers, body: createReadStream(path) };
  }
}
