import type { SqlExecutor } from '../../platform/sql/index.js';

export interface PinRow {
  message_id: string;
  pinned_by: string;
  pinned_at: Date;
}

/** SQL access to pinned messages. */
export class PinsRepository {
  constructor(private readonly db: SqlExecutor) {}

  /** Returns true when newly pinned. */
  async add(conversationId: string, messageId: string, userId: string): Promise<boolean> {
    const r = await this.db.query('INSERT INTO pins (conversation_id, message_id, pinned_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [conversationId, messageId, userId]);
    return r.rowCount > 0;
  }

  async remove(conversationId: string, messageId: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM pins WHERE conversation_id = $1 AND message_id = $2', [conversationId, messageId]);
    return r.rowCount > 0;
  }

  async count(conversationId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*) AS n FROM pins WHERE conversation_id = $1', [conversationId]);
    return Number(rows[0]?.n ?? 0);
  }

  /** Newest pin first. */
  async list(conversationId: string): Promise<PinRow[]> {
    const { rows } = await this.db.query<PinRow>('SELECT message_id, pinned_by, pinned_at FROM pins WHERE conversation_id = $1 ORDER BY pinned_at DESC, message_id', [conversationId]);
    return rows;
  }
}
