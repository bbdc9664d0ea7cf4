import type { SqlExecutor } from '../../platform/sql/index.js';
import { seqPageQuery, seqPageResult } from '../../platform/sql/seq-page.js';

export interface ThreadSummaryRow {
  root_id: string;
  conversation_id: string;
  reply_count: number;
  last_reply_at: Date | null;
  last_seq: number;
  participants: string[];
}

const SUMMARY = 'root_id, conversation_id, reply_count, last_reply_at, last_seq, participants';

/** SQL access to threads: replies by root, root summaries, follows and thread read positions. */
export class ThreadsRepository {
  constructor(private readonly db: SqlExecutor) {}

  /** Records a reply and refreshes the root's summary; returns the summary. */
  async addReply(r: { conversationId: string; rootId: string; messageId: string; seq: number; senderId: string; createdAt: Date }): Promise<ThreadSummaryRow> {
    await this.db.query(
      'INSERT INTO thread_messages (message_id, conversation_id, root_id, seq, sender_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
      [r.messageId, r.conversationId, r.rootId, r.seq, r.senderId, r.createdAt],
    );
    return this.refresh(r.conversationId, r.rootId);
  }

  /** Recomputes a root's summary from its live replies. */
  async refresh(conversationId: string, rootId: string): Promise<ThreadSummaryRow> {
    const { rows } = await this.db.query<ThreadSummaryRow>(
      `INSERT INTO threads AS t (root_id, conversation_id, reply_count, last_reply_at, last_seq, participants)
       SELECT $1, $2, count(*), max(created_at), coalesce(max(seq), 0),
              coalesce(array_agg(DISTINCT sender_id) FILTER (WHERE sender_id IS NOT NULL), '{}')
       FROM thread_messages WHERE root_id = $1 AND NOT deleted
       ON CONFLICT (root_id) DO UPDATE SET reply_count = excluded.reply_count, last_reply_at = excluded.last_reply_at,
         last_seq = excluded.last_seq, participants = excluded.participants
       RETURNING ${SUMMARY}`,
      [rootId, conversationId],
    );
    return rows[0]!;
  }

  /** Marks a reply deleted; returns its root (null when the message is not a reply). */
  async markDeleted(messageId: string): Promise<string | null> {
    const { rows } = await this.db.query<{ root_id: string }>('UPDATE thread_messages SET deleted = true WHERE message_id = $1 RETURNING root_id', [messageId]);
    return rows[0]?.root_id ?? null;
  }

  async summaries(rootIds: readonly string[]): Promise<Map<string, ThreadSummaryRow>> {
    const out = new Map<string, ThreadSummaryRow>();
    if (rootIds.length === 0) return out;
    const { rows } = await this.db.query<ThreadSummaryRow>(`SELECT ${SUMMARY} FROM threads WHERE root_id = ANY($1::text[]) AND reply_count > 0`, [rootIds]);
    for (const r of rows) out.set(r.root_id, r);
    return out;
  }

  /** Which of these messages are thread replies, and to which root. */
  async rootsOf(messageIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (messageIds.length === 0) return out;
    const { rows } = await this.db.query<{ message_id: string; root_id: string }>('SELECT message_id, root_id FROM thread_messages WHERE message_id = ANY($1::text[])', [messageIds]);
    for (const r of rows) out.set(r.message_id, r.root_id);
    return out;
  }

  /** A page of a thread's reply ids by seq (newest page by default), ascending. */
  async page(rootId: string, opts: { beforeSeq?: number; afterSeq?: number; limit: number }): Promise<{ ids: string[]; hasMore: boolean }> {
    const { where, order, params } = seqPageQuery('root_id', rootId, opts);
    const { rows } = await this.db.query<{ message_id: string }>(`SELECT message_id FROM thread_messages WHERE ${where} ORDER BY seq ${order} LIMIT $2`, params);
    const { page, hasMore } = seqPageResult(rows, opts, order);
    return { ids: page.map((r) => r.message_id), hasMore };
  }

  /** Follows (or unfollows) a thread. `onlyIfNew`: leave an existing choice alone (automatic follows). */
  async setFollow(conversationId: string, rootId: string, userId: string, following: boolean, onlyIfNew = false): Promise<void> {
    await this.db.query(
      `INSERT INTO thread_follows (root_id, user_id, conversation_id, following) VALUES ($1, $2, $3, $4)
       ON CONFLICT (root_id, user_id) DO ${onlyIfNew ? 'NOTHING' : 'UPDATE SET following = excluded.following'}`,
      [rootId, userId, conversationId, following],
    );
  }

  async following(rootId: string, userId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ following: boolean }>('SELECT following FROM thread_follows WHERE root_id = $1 AND user_id = $2', [rootId, userId]);
    return rows[0]?.following ?? false;
  }

  /** Moves the user's read position in a thread forward. */
  async markRead(conversationId: string, rootId: string, userId: string, seq: number): Promise<void> {
    await this.db.query(
      `INSERT INTO thread_follows (root_id, user_id, conversation_id, following, last_read_seq) VALUES ($1, $2, $3, false, $4)
       ON CONFLICT (root_id, user_id) DO UPDATE SET last_read_seq = GREATEST(thread_follows.last_read_seq, excluded.last_read_seq)`,
      [rootId, userId, conversationId, seq],
    );
  }

  /**
   * Thread replies from others after each read position in threads the user does not
   * follow: these do not count as unread in the conversation.
   */
  async unfollowedReplies(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (positions.length === 0) return out;
    const { rows } = await this.db.query<{ cid: string; n: number }>(
      `SELECT p.cid, count(tm.message_id) AS n FROM unnest($2::text[], $3::bigint[]) AS p(cid, after_seq)
       JOIN thread_messages tm ON tm.conversation_id = p.cid AND tm.seq > p.after_seq AND tm.sender_id <> $1 AND NOT tm.deleted
       WHERE NOT EXISTS (SELECT 1 FROM thread_follows f WHERE f.root_id = tm.root_id AND f.user_id = $1 AND f.following)
       GROUP BY p.cid`,
      [userId, positions.map((p) => p.conversationId), positions.map((p) => p.afterSeq)],
    );
    for (const r of rows) out.set(r.cid, Number(r.n));
    return out;
  }

  /** The threads of a conversation the user follows, with their unread reply counts, newest reply first. */
  async followed(userId: string, conversationId: string): Promise<(ThreadSummaryRow & { unread: number })[]> {
    const { rows } = await this.db.query<ThreadSummaryRow & { unread: number }>(
      `SELECT t.root_id, t.conversation_id, t.reply_count, t.last_reply_at, t.last_seq, t.participants,
              (SELECT count(*) FROM thread_messages tm WHERE tm.root_id = t.root_id AND tm.seq > f.last_read_seq AND tm.sender_id <> $1 AND NOT tm.deleted) AS unread
       FROM thread_follows f JOIN threads t ON t.root_id = f.root_id
       WHERE f.user_id = $1 AND f.conversation_id = $2 AND f.following AND t.reply_count > 0
       ORDER BY t.last_reply_at DESC NULLS LAST, t.root_id LIMIT 200`,
      [userId, conversationId],
    );
    return rows.map((r) => ({ ...r, unread: Number(r.unread) }));
  }
}
