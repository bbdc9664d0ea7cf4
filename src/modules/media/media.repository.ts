import type { SqlExecutor } from '../../platform/sql/index.js';
import type { MediaKind } from './media.policy.js';

export interface MediaRow {
  id: string;
  owner_id: string;
  filename: string;
  content_type: string;
  kind: MediaKind;
  size: number;
  object_key: string;
  status: 'pending' | 'ready';
  width: number | null;
  height: number | null;
  thumbnail_key: string | null;
  avatar: boolean;
  created_at: Date;
  completed_at: Date | null;
  expires_at: Date | null;
}

const COLS = 'id, owner_id, filename, content_type, kind, size, object_key, status, width, height, thumbnail_key, avatar, created_at, completed_at, expires_at';

export interface NewPendingMedia {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  kind: MediaKind;
  size: number;
  objectKey: string;
  expiresAt: Date;
}

/** SQL access to media metadata and where media was posted. */
export class MediaRepository {
  constructor(private readonly db: SqlExecutor) {}

  async insertPending(m: NewPendingMedia): Promise<MediaRow> {
    const { rows } = await this.db.query<MediaRow>(
      `INSERT INTO media (id, owner_id, filename, content_type, kind, size, object_key, status, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) RETURNING ${COLS}`,
      [m.id, m.ownerId, m.filename, m.contentType, m.kind, m.size, m.objectKey, m.expiresAt],
    );
    return rows[0]!;
  }

  async findById(id: string): Promise<MediaRow | null> {
    const { rows } = await this.db.query<MediaRow>(`SELECT ${COLS} FROM media WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<MediaRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.db.query<MediaRow>(`SELECT ${COLS} FROM media WHERE id = ANY($1::text[])`, [ids]);
    return rows;
  }

  /** pending → ready; null when it was not pending any more (completed or deleted meanwhile). */
  async markReady(id: string, dims: { width: number; height: number } | null): Promise<MediaRow | null> {
    const { rows } = await this.db.query<MediaRow>(
      `UPDATE media SET status = 'ready', width = $2, height = $3, completed_at = now(), expires_at = NULL
       WHERE id = $1 AND status = 'pending' RETURNING ${COLS}`,
      [id, dims?.width ?? null, dims?.height ?? null],
    );
    return rows[0] ?? null;
  }

  /** Deletes a pending row (a refused upload); false if it was not pending. */
  async deletePending(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`DELETE FROM media WHERE id = $1 AND status = 'pending'`, [id]);
    return rowCount > 0;
  }

  /** Records the thumbnail once; a second writer (a retried job) changes nothing. */
  async setThumbnail(id: string, key: string): Promise<void> {
    await this.db.query(`UPDATE media SET thumbnail_key = $2 WHERE id = $1 AND thumbnail_key IS NULL`, [id, key]);
  }

  async markAvatar(id: string): Promise<void> {
    await this.db.query(`UPDATE media SET avatar = true WHERE id = $1 AND NOT avatar`, [id]);
  }

  async recordPosts(conversationId: string, mediaIds: readonly string[]): Promise<void> {
    if (mediaIds.length === 0) return;
    await this.db.query(
      `INSERT INTO media_posts (media_id, conversation_id)
       SELECT DISTINCT m, $1 FROM unnest($2::text[]) AS m
       ON CONFLICT (media_id, conversation_id) DO NOTHING`,
      [conversationId, mediaIds],
    );
  }

  /** Conversations the media was posted in, oldest first. */
  async postedIn(mediaId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ conversation_id: string }>(
      `SELECT conversation_id FROM media_posts WHERE media_id = $1 ORDER BY created_at, conversation_id`,
      [mediaId],
    );
    return rows.map((r) => r.conversation_id);
  }

  /**
   * Deletes up to `limit` pending rows that expired before `now` and returns them. Deleting
   * first is the claim: a completion racing with the cleanup either marks the row ready
   * first (then it is not deleted here) or finds it gone; and concurrent cleaners in
   * several processes skip each other's rows.
   */
  async claimExpiredPending(now: Date, limit: number): Promise<{ id: string; object_key: string }[]> {
    const { rows } = await this.db.query<{ id: string; object_key: string }>(
      `DELETE FROM media WHERE id IN (
         SELECT id FROM media WHERE status = 'pending' AND expires_at < $1
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ) AND status = 'pending'
       RETURNING id, object_key`,
      [now, limit],
    );
    return rows;
  }
}
