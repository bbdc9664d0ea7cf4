/**
 * The blob port: object storage for media. The S3 adapter talks to any S3-compatible store
 * (AWS S3, Aliyun OSS, MinIO, R2) through presigned URLs; the local adapter keeps objects
 * under `DATA_DIR/media` and serves its own HMAC-signed, expiring URLs from Parley's routes.
 *
 * Semantics every adapter keeps (checked by `blob.contract.ts`):
 * - An upload URL accepts exactly one body: the signed Content-Type and Content-Length, or
 *   the request is refused (403) and nothing is stored. An upload is all-or-nothing: a
 *   partial body never becomes an object.
 * - Upload and download URLs stop working after their expiry (403), and a URL whose
 *   signature or parameters were altered is refused (403).
 * - A download URL serves the object with the Content-Type and Content-Disposition it was
 *   signed with (not whatever the uploader sent), and honours single `Range` requests.
 * - `head` and `readPrefix` answer `null` for a missing object; `delete` of a missing
 *   object is not an error.
 * - Failures of the store itself surface as `AppError('unavailable')`.
 */
import type { Readable } from 'node:stream';

/** Where and how a client uploads one object. */
export interface PresignedUpload {
  url: string;
  method: 'PUT';
  /** Headers the client must send exactly (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface UploadRequest {
  contentType: string;
  /** Exact body size in bytes; a body of any other size is refused. */
  contentLength: number;
  expiresInSeconds: number;
}

export interface DownloadRequest {
  expiresInSeconds: number;
  /** Content-Type the response carries (overrides what was stored). */
  contentType: string;
  /** Content-Disposition the response carries. */
  contentDisposition: string;
}

export interface BlobHead {
  size: number;
  contentType?: string;
}

export interface BlobStore {
  readonly kind: 's3' | 'local';
  presignUpload(key: string, req: UploadRequest): Promise<PresignedUpload>;
  /** A URL anyone holding it can GET until it expires. */
  presignDownload(key: string, req: DownloadRequest): Promise<string>;
  head(key: string): Promise<BlobHead | null>;
  /** The first `length` bytes (fewer if the object is shorter); null if missing. */
  readPrefix(key: string, length: number): Promise<Uint8Array | null>;
  /** The whole object; null if missing. Callers bound the size with `head` first. */
  read(key: string): Promise<Uint8Array | null>;
  /** Stores an object written by the server itself (thumbnails). */
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  delete(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Present when the adapter serves its own signed URLs (the local adapter); none for S3. */
  readonly signedUrls?: SignedUrlServer;
}

/** The query parameters of a signed URL, as received. */
export type SignedQuery = Record<string, string | undefined>;

/** What a signed download answers: the HTTP layer (the media module's blob routes) sends it as is. */
export interface SignedDownload {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  /** Null for 416. */
  body: Readable | null;
}

/**
 * The serving side of an adapter's own signed URLs, free of any HTTP framework: the media
 * module maps `PUT`/`GET /v1/blobs/<key>` onto it. Errors are `AppError`s (403 for a bad or
 * expired signature, 404 for a missing object or a malformed key).
 */
export interface SignedUrlServer {
  /** Verifies a signed upload and its signed headers, then stores the body (all or nothing). */
  acceptUpload(key: string, query: SignedQuery, headers: { contentType?: string; contentLength?: string }, body: Readable): Promise<void>;
  /** Verifies a signed download; the status, headers and body to send (a single `Range` honoured). */
  openDownload(key: string, query: SignedQuery, range: string | undefined): Promise<SignedDownload>;
}

/** Object keys are made by the server: a strict shape keeps them safe as paths and URLs. */
export const BLOB_KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** Throws on a key outside the strict shape (a bug in the caller, not user input). */
export function assertBlobKey(key: string): void {
  if (!BLOB_KEY_PATTERN.test(key) || key.length > 512) throw new Error(`invalid blob key: ${JSON.stringify(key)}`);
}

/**
 * A Content-Disposition header value for `filename`: an ASCII fallback plus the RFC 5987
 * UTF-8 form, with quotes, backslashes and control characters removed so a hostile name
 * cannot inject header parameters.
 */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const clean =
    Array.from(filename, (c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' || c === '"' || c === '\\' || c === '/' ? '_' : c))
      .join('')
      .slice(0, 200) || 'file';
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
