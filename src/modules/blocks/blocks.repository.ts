import type { SqlExecutor } from '../../platform/sql/index.js';

/** SQL access to blocks: `user_id` blocked `blocked_id`. */
export class BlocksRepository {
  constructor(private readonly db: SqlExecutor) {}

  /** Returns true when the block is new. */
  async add(userId: string, blockedId: string): Promise<boolean> {
    const r = await this.db.query('INSERT INTO blocks (user_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, blockedId]);
    return r.rowCount > 0;
  }

  async remove(userId: string, blockedId: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2', [userId, blockedId]);
    return r.rowCount > 0;
  }

  async list(userId: string): Promise<{ blocked_id: string; created_at: Date }[]> {
    const { rows } = await this.db.query<{ blocked_id: string; created_at: Date }>('SELECT blocked_id, created_at FROM blocks WHERE user_id = $1 ORDER BY created_at DESC, blocked_id', [userId]);
    return rows;
  }

  /**
   * Whether the other member of this direct conversation blocked `senderId`. False for a
   * group, and for a conversation `senderId` is not in (its direct key names both members).
   */
  async blockedInDirect(conversationId: string, senderId: string): Promise<boolean> {
    const { rows } = await this.db.query(
      `SELECT 1 FROM conversations c JOIN blocks b ON b.blocked_id = $2
       WHERE c.id = $1 AND c.type = 'direct' AND c.direct_key IN (b.user_id || ':' || $2, $2 || ':' || b.user_id) LIMIT 1`,
      [conversationId, senderId],
    );
    return rows.length > 0;
  }

  /** Whether `userId` has blocked `otherId`. */
  async has(userId: string, otherId: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM blocks WHERE user_id = $1 AND blocked_id = $2', [userId, otherId]);
    return rows.length > 0;
  }
}
