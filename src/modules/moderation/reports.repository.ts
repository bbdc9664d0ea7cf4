import type { SqlExecutor } from '../../platform/sql/index.js';

export interface ReportRow {
  id: string;
  conversation_id: string;
  message_id: string;
  reporter_id: string;
  reported_user_id: string;
  reason: string;
  message_text: string | null;
  status: 'open' | 'resolved';
  created_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
}

const COLS = 'id, conversation_id, message_id, reporter_id, reported_user_id, reason, message_text, status, created_at, resolved_at, resolved_by';

/** SQL access to message reports. */
export class ReportsRepository {
  constructor(private readonly db: SqlExecutor) {}

  /** Records a report; a second report of the same message by the same user returns the first. */
  async insert(r: { id: string; conversationId: string; messageId: string; reporterId: string; reportedUserId: string; reason: string; messageText: string | null }): Promise<{ row: ReportRow; created: boolean }> {
    const ins = await this.db.query<ReportRow>(
      `INSERT INTO reports (id, conversation_id, message_id, reporter_id, reported_user_id, reason, message_text) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT ON CONSTRAINT reports_once DO NOTHING RETURNING ${COLS}`,
      [r.id, r.conversationId, r.messageId, r.reporterId, r.reportedUserId, r.reason, r.messageText],
    );
    if (ins.rows[0]) return { row: ins.rows[0], created: true };
    const { rows } = await this.db.query<ReportRow>(`SELECT ${COLS} FROM reports WHERE message_id = $1 AND reporter_id = $2`, [r.messageId, r.reporterId]);
    return { row: rows[0]!, created: false };
  }

  async find(id: string): Promise<ReportRow | null> {
    const { rows } = await this.db.query<ReportRow>(`SELECT ${COLS} FROM reports WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** Newest first, after a keyset (created_at, id). */
  async list(status: 'open' | 'resolved', limit: number, after?: { at: Date; id: string }): Promise<ReportRow[]> {
    const params: unknown[] = [status, limit];
    let cond = '';
    if (after) {
      params.push(after.at, after.id);
      cond = `AND (date_trunc('milliseconds', created_at), id) < ($3::timestamptz, $4::text)`;
    }
    const { rows } = await this.db.query<ReportRow>(
      `SELECT ${COLS} FROM reports WHERE status = $1 ${cond} ORDER BY date_trunc('milliseconds', created_at) DESC, id DESC LIMIT $2`,
      params,
    );
    return rows;
  }

  /** Resolves the given report, or (with `messageId`) every open report of that message. */
  async resolve(by: string, where: { id: string } | { messageId: string }): Promise<void> {
    if ('id' in where) await this.db.query(`UPDATE reports SET status = 'resolved', resolved_at = now(), resolved_by = $2 WHERE id = $1 AND status = 'open'`, [where.id, by]);
    else await this.db.query(`UPDATE reports SET status = 'resolved', resolved_at = now(), resolved_by = $2 WHERE message_id = $1 AND status = 'open'`, [where.messageId, by]);
  }
}
