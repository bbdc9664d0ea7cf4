/**
 * The S3 blob adapter (AWS SDK v3): AWS S3, Aliyun OSS, MinIO, R2 and anything else that
 * speaks the S3 API with SigV4. Clients upload and download straight from the store via
 * presigned URLs; the server only HEADs, reads a prefix for sniffing, and writes thumbnails.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../../errors.js';
import { assertBlobKey, type BlobHead, type BlobStore, type DownloadRequest, type PresignedUpload, type UploadRequest } from './blob.port.js';

export interface S3BlobOptions {
  bucket: string;
  region: string;
  /** Unset: AWS's own endpoint for the region. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Unset: the AWS SDK default credential chain (env, profile, instance role…). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** CDN/public base URL whose origin (and path prefix) replaces the store's in download URLs. */
  publicUrl?: string;
}

interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as SdkError | null)?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || statusOf(err) === 404;
}

/** Store failures are a dependency problem for our callers, never a bug of theirs. */
function unavailable(op: string, err: unknown): AppError {
  const name = (err as SdkError | null)?.name ?? 'Error';
  return new AppError('unavailable', `Object storage failed (${op}: ${name}).`, { cause: err });
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly publicUrl: URL | undefined;

  constructor(opts: S3BlobOptions) {
    const cfg: S3ClientConfig = {
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      // The default (WHEN_SUPPORTED) puts a CRC32 of the empty body seen at signing time
      // into presigned PUT URLs; stores that check it (R2, S3 itself) then refuse the real
      // upload. Checksums only where an operation requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      // Streamed bodies go aws-chunked; some stores refuse chunks under 8 KiB.
      requestStreamBufferSize: 64 * 1024,
      maxAttempts: 3,
    };
    if (opts.endpoint) cfg.endpoint = opts.endpoint;
    if (opts.credentials) cfg.credentials = opts.credentials;
    this.client = new S3Client(cfg);
    this.bucket = opts.bucket;
    this.publicUrl = opts.publicUrl ? new URL(opts.publicUrl) : undefined;
  }

  async presignUpload(key: string, req: UploadRequest): Promise<PresignedUpload> {
    assertBlobKey(key);
    const cmd = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: req.contentType, ContentLength: req.contentLength });
    // The presigner signs only `host` unless told otherwise: signing the type and length
    // makes the store itself refuse a body of another type or size (403), before the
    // server's own check at completion.
    const url = await getSignedUrl(this.client, cmd, {
      expiresIn: Math.max(1, Math.floor(req.expiresInSeconds)),
      signableHeaders: new Set(['content-type', 'content-length']),
    });
    return {
      url,
      method: 'PUT',
      // Content-Length is not listed: browsers set it themselves (and refuse to let
      // scripts set it); the body must simply be exactly `contentLength` bytes.
      headers: { 'content-type': req.contentType },
      expiresAt: new Date(Date.now() + Math.floor(req.expiresInSeconds) * 1000),
    };
  }

  async presignDownload(key: string, req: DownloadRequest): Promise<string> {
    assertBlobKey(key);
    const cmd = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: req.contentType,
      ResponseContentDisposition: req.contentDisposition,
    });
    const url = await getSignedUrl(this.client, cmd, { expiresIn: Math.max(1, Math.floor(req.expiresInSeconds)) });
    return this.publicUrl ? this.rebase(url, this.publicUrl) : url;
  }

  /**
   * Moves a presigned URL onto the CDN: same path and query (the signature), the CDN's
   * origin and path prefix. The CDN must forward the query string and present the store's
   * Host to it, as CloudFront/OSS CDN origins do, so the signature still verifies.
   */
  private rebase(signed: string, base: URL): string {
    const u = new URL(signed);
    const prefix = base.pathname.replace(/\/+$/, '');
    return `${base.origin}${prefix}${u.pathname}${u.search}`;
  }

  async head(key: string): Promise<BlobHead | null> {
    assertBlobKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const head: BlobHead = { size: r.ContentLength ?? 0 };
      if (r.ContentType) head.contentType = r.ContentType;
      return head;
    } catch (err) {
      if (isMissing(err)) return null;
      throw unavailable('head', err);
    }
  }

  async readPrefix(key: string, length: number): Promise<Uint8Array | null> {
    assertBlobKey(key);
    if (length <= 0) return new Uint8Array(0);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${length - 1}` }));
      const bytes = (await r.Body?.transformToByteArray()) ?? new Uint8Array(0);
      // A store that ignores Range sends everything; keep only what was asked for.
      return bytes.length > length ? bytes.subarray(0, length) : bytes;
    } catch (err) {
      if (isMissing(err)) return null;
      // 416: the object is empty, so no byte range is satisfiable.
      if (statusOf(err) === 416) return new Uint8Array(0);
      throw unavailable('read', err);
    }
  }

  async read(key: string): Promise<Uint8Array | null> {
    assertBlobKey(key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await r.Body?.transformToByteArray()) ?? new Uint8Array(0);
    } catch (err) {
      if (isMissing(err)) return null;
      throw unavailable('read', err);
    }
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    assertBlobKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length }));
    } catch (err) {
      throw unavailable('put', err);
    }
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isMissing(err)) return;
      throw unavailable('delete', err);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw unavailable('ping', err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
