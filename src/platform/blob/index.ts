import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { BlobStore } from './blob.port.js';

export interface BlobStoreOptions {
  /** External base URL of this Parley (for the local adapter's signed URLs). */
  publicBaseUrl: () => string;
}

/**
 * The local adapter's URL-signing key. Derived from JWT_SECRET when it is set (so every
 * process of a deployment agrees without another setting); otherwise generated once and
 * kept in `DATA_DIR/blob-signing-key` (outside the media directory, so it is never served).
 */
function localSigningKey(config: Config): string {
  if (config.JWT_SECRET) return createHmac('sha256', config.JWT_SECRET).update('parley/blob-url-signing').digest('base64url');
  const file = join(config.DATA_DIR, 'blob-signing-key');
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
  } catch {
    /* not created yet */
  }
  mkdirSync(config.DATA_DIR, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  // 'wx' fails if another process created it first; then we read theirs.
  try {
    writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
    return key;
  } catch {
    return readFileSync(file, 'utf8').trim();
  }
}

/** Chooses the blob adapter once at boot: S3 when `S3_BUCKET` is set, else a local directory. */
export async function openBlobStore(config: Config, logger: Logger, opts: BlobStoreOptions): Promise<BlobStore> {
  if (config.S3_BUCKET) {
    const { S3BlobStore } = await import('./blob.s3.js');
    if (Boolean(config.S3_ACCESS_KEY_ID) !== Boolean(config.S3_SECRET_ACCESS_KEY)) {
      throw new Error('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
    }
    logger.info({ bucket: config.S3_BUCKET, endpoint: config.S3_ENDPOINT || 'aws' }, 'media: S3 object storage');
    return new S3BlobStore({
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      ...(config.S3_ACCESS_KEY_ID ? { credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } } : {}),
      ...(config.S3_PUBLIC_URL ? { publicUrl: config.S3_PUBLIC_URL } : {}),
    });
  }
  const { LocalBlobStore } = await import('./blob.local.js');
  const root = join(config.DATA_DIR, 'media');
  logger.info({ root }, 'media: local directory storage');
  const store = new LocalBlobStore({ root, secret: localSigningKey(config), baseUrl: opts.publicBaseUrl });
  await store.ping();
  return store;
}

export type { BlobHead, BlobStore, DownloadRequest, PresignedUpload, SignedDownload, SignedQuery, SignedUrlServer, UploadRequest } from './blob.port.js';
export { contentDisposition } from './blob.port.js';
