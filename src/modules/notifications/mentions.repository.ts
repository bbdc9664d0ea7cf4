import type { SqlExecutor } from '../../platform/sql/index.js';

export interface MentionRow {
  message_id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  created_at: Date;
  last_read_seq: number;
}

/** SQL access to mention notifications (written by the mention job). */
export class MentionsRepository {
  constructor(private readonly db: SqlExecutor) {}

  async record(rows: readonly { userId: string; messageId: string; conversationId: string; seq: number; senderId: string; createdAt: Date }[]): Promise<void> {
    for (const r of rows) {
      await this.db.query(
        `INSERT INTO mention_notifications (user_id, message_id, conversation_id, seq, sender_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, message_id) DO NOTHING`,
        [r.userId, r.messageId, r.conversationId, r.seq, r.senderId, r.createdAt],
      );
    }
  }

  /**
   * A user's mentions, newest first, only where they are still a member and the message
   * still mentions them (an edit can take a mention away; a delete takes all).
   */
  async list(userId: string, limit: number, before?: { at: Date; id: string }): Promise<MentionRow[]> {
    const params: unknown[] = [userId, limit];
    let where = '';
    if (before) {
      params.push(before.at, before.id);
      where = `AND (date_trunc('milliseconds', n.created_at), n.message_id) < ($3, $4)`;
    }
    // Ordered and compared at the cursor's precision (milliseconds: a JS Date), or mentions
    // made later in the same millisecond as a page's last one would be skipped.
    const { rows } = await this.db.query<MentionRow>(
      `SELECT n.message_id, n.conversation_id, n.seq, n.sender_id, n.created_at, mb.last_read_seq
         FROM mention_notifications n
         JOIN mentions x ON x.user_id = n.user_id AND x.conversation_id = n.conversation_id AND x.seq = n.seq
         JOIN members mb ON mb.conversation_id = n.conversation_id AND mb.user_id = n.user_id
        WHERE n.user_id = $1 ${where}
        ORDER BY date_trunc('milliseconds', n.created_at) DESC, n.message_id DESC
        LIMIT $2`,
      params,
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq), last_read_seq: Number(r.last_read_seq) }));
  }

  /** Unread mentions of a user over every conversation they are in (exact: the send path's rows). */
  async unreadCount(userId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM mentions x JOIN members mb ON mb.conversation_id = x.conversation_id AND mb.user_id = x.user_id
        WHERE x.user_id = $1 AND x.seq > mb.last_read_seq`,
      [userId],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
