import type { SqlExecutor } from '../../platform/sql/index.js';

export interface EditRow {
  editor_id: string;
  previous_text: string | null;
  edited_at: Date;
}

/** SQL access to edit history: the text each edit replaced (for either message store). */
export class MessageEditsRepository {
  constructor(private readonly db: SqlExecutor) {}

  async record(conversationId: string, messageId: string, editorId: string, previousText: string | null, editedAt: Date): Promise<void> {
    await this.db.query('INSERT INTO message_edits (conversation_id, message_id, editor_id, previous_text, edited_at) VALUES ($1, $2, $3, $4, $5)', [
      conversationId,
      messageId,
      editorId,
      previousText,
      editedAt,
    ]);
  }

  /** Oldest first. */
  async list(conversationId: string, messageId: string): Promise<EditRow[]> {
    const { rows } = await this.db.query<EditRow>('SELECT editor_id, previous_text, edited_at FROM message_edits WHERE message_id = $1 AND conversation_id = $2 ORDER BY id', [
      messageId,
      conversationId,
    ]);
    return rows;
  }

  /** A deleted message keeps no history of its text. */
  async purge(conversationId: string, messageId: string): Promise<void> {
    await this.db.query('DELETE FROM message_edits WHERE message_id = $1 AND conversation_id = $2', [messageId, conversationId]);
  }
}
