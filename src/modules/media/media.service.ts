/**
 * The Media service (flow 5): upload tickets with presigned URLs, checking what was
 * actually stored, authorized short-lived downloads, thumbnails, the cleanup of abandoned
 * uploads, and the hooks the chat core uses for attachments and avatars.
 */
import { fileTypeFromBuffer } from 'file-type';
import type { Config } from '../../config.js';
import { AppError, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Logger } from '../../logger.js';
import { contentDisposition, type BlobStore } from '../../platform/blob/index.js';
import type { JobQueue } from '../../platform/jobs/jobs.port.js';
import { ALLOWED_CONTENT_TYPES, classifyContentType, dispositionType, sizeLimit, sniffMatches } from './media.policy.js';
import type { MediaRepository, MediaRow } from './media.repository.js';
import type { CreateUploadBody, Media, UploadTicket } from './media.schemas.js';
import { THUMBNAIL_CONTENT_TYPE, imageDimensions, renderThumbnail, type Dimensions } from './media.thumbnail.js';

/** Whether `userId` is a member of `conversationId` (the conversations service's check). */
export type IsMember = (userId: string, conversationId: string) => Promise<boolean>;

export type MediaConfig = Pick<
  Config,
  | 'MEDIA_MAX_IMAGE_BYTES'
  | 'MEDIA_MAX_VIDEO_BYTES'
  | 'MEDIA_MAX_AUDIO_BYTES'
  | 'MEDIA_MAX_FILE_BYTES'
  | 'MEDIA_UPLOAD_URL_TTL'
  | 'MEDIA_DOWNLOAD_URL_TTL'
  | 'MEDIA_PENDING_TTL'
>;

export interface MediaServiceDeps {
  repo: MediaRepository;
  blobs: BlobStore;
  jobs: JobQueue;
  config: MediaConfig;
  logger: Logger;
  isMember: IsMember;
  /** External base URL of this Parley (for the stable avatar URLs). */
  publicBaseUrl: () => string;
}

/** Payload of a `media.thumbnail` job. */
export interface ThumbnailJob {
  mediaId: string;
}

/** Bytes read from the start of an object to sniff its type (and most image headers). */
const SNIFF_BYTES = 64 * 1024;
const CLEANUP_BATCH = 100;

export class MediaService {
  constructor(private readonly deps: MediaServiceDeps) {}

  // ---- upload flow ----

  /** Checks the declared type and size, records a pending upload, and presigns its URL. */
  async createUpload(ownerId: string, req: CreateUploadBody): Promise<UploadTicket> {
    const { config, repo, blobs } = this.deps;
    const type = classifyContentType(req.contentType);
    if (!type.ok) {
      throw invalid(
        type.reason === 'malformed'
          ? `contentType "${req.contentType}" is not a media type (type/subtype).`
          : `contentType "${type.contentType}" is not allowed. Allowed: ${ALLOWED_CONTENT_TYPES.join(', ')}.`,
      );
    }
    const limit = sizeLimit(config, type.kind);
    if (req.size > limit) throw new AppError('payload_too_large', `A ${type.kind} upload may be at most ${limit} bytes; ${req.size} were declared.`);

    const id = newId();
    const objectKey = `media/${id}`;
    // The URL never outlives the pending row: an upload arriving after the cleanup
    // removed the row would leave an object nobody owns.
    const urlTtl = Math.min(config.MEDIA_UPLOAD_URL_TTL, config.MEDIA_PENDING_TTL);
    const expiresAt = new Date(Date.now() + config.MEDIA_PENDING_TTL * 1000);
    await repo.insertPending({ id, ownerId, filename: req.filename.trim() || 'file', contentType: type.contentType, kind: type.kind, size: req.size, objectKey, expiresAt });
    const up = await blobs.presignUpload(objectKey, { contentType: type.contentType, contentLength: req.size, expiresInSeconds: urlTtl });
    return { mediaId: id, uploadUrl: up.url, uploadMethod: up.method, uploadHeaders: up.headers, expiresAt: up.expiresAt.toISOString() };
  }

  /**
   * Checks the stored object against the declaration (size, sniffed type, image header),
   * then marks the media ready; a mismatch deletes the object and the record. Idempotent:
   * completing ready media returns it again.
   */
  async complete(userId: string, mediaId: string): Promise<Media> {
    const { repo, blobs, config } = this.deps;
    const row = await repo.findById(mediaId);
    if (!row || row.owner_id !== userId) throw notFound('Media not found.');
    if (row.status === 'ready') {
      // A previous completion may have failed to queue the thumbnail: queue it again
      // (the job is idempotent).
      await this.queueThumbnail(row);
      return this.view(row);
    }
    if (row.expires_at && row.expires_at.getTime() < Date.now()) throw notFound('Media not found (the upload expired).');

    const head = await blobs.head(row.object_key);
    // Nothing stored yet: the record stays pending, so the client can upload and retry.
    if (!head) throw invalid('Nothing has been uploaded for this media yet.');
    const limit = sizeLimit(config, row.kind);
    if (head.size > limit) return this.refuse(row, new AppError('payload_too_large', `The uploaded object has ${head.size} bytes; a ${row.kind} may be at most ${limit}.`));
    if (head.size !== row.size) return this.refuse(row, invalid(`The uploaded object has ${head.size} bytes; ${row.size} were declared.`));

    const prefix = await blobs.readPrefix(row.object_key, SNIFF_BYTES);
    if (!prefix) throw invalid('Nothing has been uploaded for this media yet.');
    const sniffed = (await fileTypeFromBuffer(prefix))?.mime;
    if (!sniffMatches(row.content_type, sniffed, prefix)) {
      const what = sniffed ? `${sniffed} data` : 'data of no recognised format';
      return this.refuse(row, invalid(`The uploaded bytes are ${what}, which does not match the declared ${row.content_type}.`));
    }

    let dims: Dimensions | null = null;
    if (row.kind === 'image') {
      // Most headers sit in the first bytes; a JPEG with large EXIF data needs the rest.
      dims = (await imageDimensions(prefix)) ?? (head.size > prefix.length ? await this.dimensionsOfWhole(row) : null);
      if (!dims) return this.refuse(row, invalid(`The uploaded bytes are not a readable ${row.content_type} image.`));
    }

    const ready = await repo.markReady(row.id, dims);
    if (!ready) {
      // A concurrent completion won (or the cleanup removed an expired upload).
      const now = await repo.findById(row.id);
      if (now?.status === 'ready') return this.view(now);
      throw notFound('Media not found.');
    }
    await this.queueThumbnail(ready);
    return this.view(ready);
  }

  private async dimensionsOfWhole(row: MediaRow): Promise<Dimensions | null> {
    const bytes = await this.deps.blobs.read(row.object_key);
    return bytes ? imageDimensions(bytes) : null;
  }

  /** Removes a refused upload (object, then record) and throws `err`. */
  private async refuse(row: MediaRow, err: AppError): Promise<never> {
    await this.deps.blobs.delete(row.object_key);
    await this.deps.repo.deletePending(row.id);
    this.deps.logger.info({ mediaId: row.id, reason: err.message }, 'media upload refused');
    throw err;
  }

  private async queueThumbnail(row: MediaRow): Promise<void> {
    if (row.kind !== 'image' || row.thumbnail_key || row.status !== 'ready') return;
    await this.deps.jobs.enqueue<ThumbnailJob>('media.thumbnail', { mediaId: row.id }, { id: `media.thumbnail:${row.id}` });
  }

  /** The `media.thumbnail` job: renders a WebP thumbnail and stores it beside the original. */
  async makeThumbnail(mediaId: string): Promise<void> {
    const { repo, blobs, logger } = this.deps;
    const row = await repo.findById(mediaId);
    if (!row || row.status !== 'ready' || row.kind !== 'image' || row.thumbnail_key) return;
    const bytes = await blobs.read(row.object_key);
    if (!bytes) return;
    let thumb;
    try {
      thumb = await renderThumbnail(bytes);
    } catch (err) {
      // The header decoded at completion but the pixels do not: retrying cannot help.
      logger.warn({ err, mediaId }, 'media: cannot render a thumbnail');
      return;
    }
    const key = `${row.object_key}.thumb.webp`;
    await blobs.put(key, thumb.body, THUMBNAIL_CONTENT_TYPE);
    await repo.setThumbnail(row.id, key);
  }

  /** Deletes pending uploads whose time ran out (record, then object). Returns how many. */
  async cleanupExpired(now = new Date()): Promise<number> {
    const { repo, blobs, logger } = this.deps;
    let total = 0;
    for (;;) {
      const batch = await repo.claimExpiredPending(now, CLEANUP_BATCH);
      for (const m of batch) {
        try {
          await blobs.delete(m.object_key);
        } catch (err) {
          // The record is gone; an object left behind is only storage, never reachable.
          logger.warn({ err, mediaId: m.id }, 'media cleanup: cannot delete object');
        }
      }
      total += batch.length;
      if (batch.length < CLEANUP_BATCH) break;
    }
    if (total > 0) logger.info({ deleted: total }, 'media cleanup: removed abandoned uploads');
    return total;
  }

  // ---- reading ----

  /** Media for the owner, or for a member of a conversation it was posted in; else not_found. */
  async get(viewerId: string, mediaId: string): Promise<Media> {
    const row = await this.deps.repo.findById(mediaId);
    if (!row) throw notFound('Media not found.');
    if (row.owner_id === viewerId) return this.view(row);
    if (row.status === 'ready' && (await this.postedWhereMember(viewerId, row.id))) return this.view(row);
    throw notFound('Media not found.');
  }

  private async postedWhereMember(userId: string, mediaId: string): Promise<boolean> {
    for (const conversationId of await this.deps.repo.postedIn(mediaId)) {
      if (await this.deps.isMember(userId, conversationId)) return true;
    }
    return false;
  }

  /** The API shape, with fresh signed URLs when the media is ready. */
  private async view(row: MediaRow): Promise<Media> {
    const m: Media = {
      id: row.id,
      ownerId: row.owner_id,
      filename: row.filename,
      contentType: row.content_type,
      size: row.size,
      kind: row.kind,
      status: row.status,
      createdAt: row.created_at.toISOString(),
    };
    if (row.width !== null) m.width = row.width;
    if (row.height !== null) m.height = row.height;
    if (row.status === 'ready') {
      const ttl = this.deps.config.MEDIA_DOWNLOAD_URL_TTL;
      const disposition = contentDisposition(dispositionType(row.kind), row.filename);
      m.url = await this.deps.blobs.presignDownload(row.object_key, { expiresInSeconds: ttl, contentType: row.content_type, contentDisposition: disposition });
      if (row.thumbnail_key) {
        const thumbName = `${row.filename.replace(/\.[^.]*$/, '')}.thumb.webp`;
        m.thumbnailUrl = await this.deps.blobs.presignDownload(row.thumbnail_key, {
          expiresInSeconds: ttl,
          contentType: THUMBNAIL_CONTENT_TYPE,
          contentDisposition: contentDisposition('inline', thumbName),
        });
      }
      m.urlExpiresAt = new Date(Date.now() + Math.floor(ttl) * 1000).toISOString();
    }
    return m;
  }

  // ---- hooks for the chat core ----

  /**
   * Checks message attachments: every id must be a completed upload owned by `userId`
   * (else `invalid_request`, the same for missing and foreign ids, so nothing leaks).
   * Returns the media, with URLs, in the given order.
   */
  async attachable(userId: string, mediaIds: readonly string[]): Promise<Media[]> {
    if (mediaIds.length === 0) return [];
    const rows = new Map((await this.deps.repo.findByIds([...new Set(mediaIds)])).map((r) => [r.id, r]));
    const out: MediaRow[] = [];
    for (const id of mediaIds) {
      const row = rows.get(id);
      if (!row || row.owner_id !== userId || row.status !== 'ready') {
        throw new AppError('invalid_request', `Attachment ${id} is not a completed upload of yours.`);
      }
      out.push(row);
    }
    return Promise.all(out.map((r) => this.view(r)));
  }

  /** Records that media was posted in a conversation: its members may now download it. */
  async recordPosted(conversationId: string, mediaIds: readonly string[]): Promise<void> {
    await this.deps.repo.recordPosts(conversationId, [...new Set(mediaIds)]);
  }

  /**
   * Media with fresh URLs for rendering messages (ids not found or not ready are skipped).
   * The caller authorizes: it renders a conversation's messages only to its members.
   */
  async expand(mediaIds: readonly string[], _viewerId?: string): Promise<Media[]> {
    if (mediaIds.length === 0) return [];
    const rows = new Map((await this.deps.repo.findByIds([...new Set(mediaIds)])).map((r) => [r.id, r]));
    const found = mediaIds.flatMap((id) => {
      const r = rows.get(id);
      return r && r.status === 'ready' ? [r] : [];
    });
    return Promise.all(found.map((r) => this.view(r)));
  }

  /**
   * Checks that `userId` may use `mediaId` as an avatar (their own completed image) and
   * marks it as one, which makes it fetchable by anyone through `avatarUrl`.
   */
  async validateAvatar(userId: string, mediaId: string): Promise<void> {
    const row = await this.deps.repo.findById(mediaId);
    if (!row || row.owner_id !== userId || row.status !== 'ready' || row.kind !== 'image') {
      throw new AppError('invalid_request', 'avatarMediaId must be a completed image upload of yours.');
    }
    await this.deps.repo.markAvatar(row.id);
  }

  /**
   * A stable URL for an avatar: Parley's `GET /v1/media/:id/avatar`, which redirects to a
   * fresh signed URL. Stable so that user objects can be cached and compared.
   */
  avatarUrl(mediaId: string): string | undefined {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(mediaId)) return undefined;
    return `${this.deps.publicBaseUrl().replace(/\/+$/, '')}/v1/media/${mediaId}/avatar`;
  }

  /** Where `GET /v1/media/:id/avatar` redirects: only media marked as an avatar. */
  async avatarRedirect(mediaId: string, size: 'thumb' | 'full'): Promise<{ url: string; maxAgeSeconds: number }> {
    const row = await this.deps.repo.findById(mediaId);
    if (!row || !row.avatar || row.status !== 'ready' || row.kind !== 'image') throw notFound('Avatar not found.');
    const ttl = this.deps.config.MEDIA_DOWNLOAD_URL_TTL;
    const useThumb = size === 'thumb' && row.thumbnail_key !== null;
    const url = await this.deps.blobs.presignDownload(useThumb ? row.thumbnail_key! : row.object_key, {
      expiresInSeconds: ttl,
      contentType: useThumb ? THUMBNAIL_CONTENT_TYPE : row.content_type,
      contentDisposition: 'inline',
    });
    // Browsers may reuse the redirect only while its target still works.
    return { url, maxAgeSeconds: Math.max(0, Math.floor(ttl / 2)) };
  }
}
