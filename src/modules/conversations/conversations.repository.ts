import type { SqlExecutor } from '../../platform/sql/index.js';
import { currentSnapshot, scanChanges } from '../../platform/sql/change-scan.js';
import type { ChangeScan, ChangeSnapshot } from '../../platform/changes.js';
import type { Role } from '../../../sdk/types.js';

export interface ConversationRow {
  id: string;
  type: 'direct' | 'group';
  title: string | null;
  topic: string | null;
  avatar_media_id: string | null;
  direct_key: string | null;
  created_by: string;
  member_count: number;
  created_at: Date;
  updated_at: Date;
  last_activity_at: Date;
}

/** A conversation as one member sees it. */
export interface MembershipRow extends ConversationRow {
  role: Role;
  last_read_seq: number;
}

export interface MemberRow {
  user_id: string;
  role: Role;
  joined_at: Date;
  last_read_seq: number;
}

export interface EventRow {
  id: number;
  conversation_id: string;
  user_id: string | null;
  type: string;
  payload: unknown;
  created_at: Date;
}

const CONV = 'c.id, c.type, c.title, c.topic, c.avatar_media_id, c.direct_key, c.created_by, c.member_count, c.created_at, c.updated_at, c.last_activity_at';

/** SQL access to conversations, members, mentions and the conversation event log. */
export class ConversationsRepository {
  constructor(private readonly db: SqlExecutor) {}

  async insert(c: { id: string; type: 'direct' | 'group'; title: string | null; topic: string | null; directKey: string | null; createdBy: string }): Promise<ConversationRow> {
    const { rows } = await this.db.query<ConversationRow>(
      `INSERT INTO conversations AS c (id, type, title, topic, direct_key, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${CONV}`,
      [c.id, c.type, c.title, c.topic, c.directKey, c.createdBy],
    );
    return rows[0]!;
  }

  async findByDirectKey(key: string): Promise<ConversationRow | null> {
    const { rows } = await this.db.query<ConversationRow>(`SELECT ${CONV} FROM conversations c WHERE c.direct_key = $1`, [key]);
    return rows[0] ?? null;
  }

  /** Locks the conversation row: membership changes of one conversation take turns. */
  async lock(id: string): Promise<ConversationRow | null> {
    const { rows } = await this.db.query<ConversationRow>(`SELECT ${CONV} FROM conversations c WHERE c.id = $1 FOR UPDATE`, [id]);
    return rows[0] ?? null;
  }

  /** The conversation as `userId` sees it, or null when they are not a member. */
  async findForMember(id: string, userId: string): Promise<MembershipRow | null> {
    const { rows } = await this.db.query<MembershipRow>(
      `SELECT ${CONV}, m.role, m.last_read_seq FROM conversations c JOIN members m ON m.conversation_id = c.id AND m.user_id = $2 WHERE c.id = $1`,
      [id, userId],
    );
    return rows[0] ?? null;
  }

  async isMember(id: string, userId: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2', [id, userId]);
    return rows.length > 0;
  }

  /** The user's conversations, most recent activity first, after a keyset cursor. */
  async listForUser(userId: string, limit: number, after?: { at: Date; id: string }): Promise<MembershipRow[]> {
    const params: unknown[] = [userId, limit];
    let cond = '';
    if (after) {
      params.push(after.at, after.id);
      cond = `AND (date_trunc('milliseconds', c.last_activity_at), c.id) < ($3, $4)`;
    }
    // Ordered and compared at the cursor's precision (milliseconds: a JS Date), or the
    // conversations active later in the same millisecond as a page's last one would be skipped.
    const { rows } = await this.db.query<MembershipRow>(
      `SELECT ${CONV}, m.role, m.last_read_seq FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = $1 ${cond} ORDER BY date_trunc('milliseconds', c.last_activity_at) DESC, c.id DESC LIMIT $2`,
      params,
    );
    return rows;
  }

  async conversationIdsOf(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ conversation_id: string }>('SELECT conversation_id FROM members WHERE user_id = $1', [userId]);
    return rows.map((r) => r.conversation_id);
  }

  /** The conversations of each of `userIds`, in one query (presence announces a batch of users at once). */
  async conversationIdsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(userIds.map((u) => [u, []]));
    if (userIds.length === 0) return out;
    const { rows } = await this.db.query<{ user_id: string; conversation_id: string }>('SELECT user_id, conversation_id FROM members WHERE user_id = ANY($1::text[])', [[...userIds]]);
    for (const r of rows) out.get(r.user_id)?.push(r.conversation_id);
    return out;
  }

  async members(id: string): Promise<MemberRow[]> {
    const { rows } = await this.db.query<MemberRow>('SELECT user_id, role, joined_at, last_read_seq FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id', [id]);
    return rows;
  }

  async memberIds(id: string): Promise<string[]> {
    const { rows } = await this.db.query<{ user_id: string }>('SELECT user_id FROM members WHERE conversation_id = $1', [id]);
    return rows.map((r) => r.user_id);
  }

  /** Everyone who shares a conversation with `userId` (who may see their presence). */
  async contactsOf(userId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ user_id: string }>(
      `SELECT DISTINCT o.user_id FROM members me JOIN members o ON o.conversation_id = me.conversation_id
       WHERE me.user_id = $1 AND o.user_id <> $1`,
      [userId],
    );
    return rows.map((r) => r.user_id);
  }

  async role(id: string, userId: string): Promise<Role | null> {
    const { rows } = await this.db.query<{ role: Role }>('SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2', [id, userId]);
    return rows[0]?.role ?? null;
  }

  async setRole(id: string, userId: string, role: Role): Promise<void> {
    await this.db.query('UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2', [id, userId, role]);
  }

  /** Adds members that are not members yet; returns the ones added. */
  async addMembers(id: string, members: readonly { userId: string; role: Role }[]): Promise<string[]> {
    if (members.length === 0) return [];
    const { rows } = await this.db.query<{ user_id: string }>(
      `INSERT INTO members (conversation_id, user_id, role)
       SELECT $1, u, r FROM unnest($2::text[], $3::text[]) AS t(u, r)
       ON CONFLICT DO NOTHING RETURNING user_id`,
      [id, members.map((m) => m.userId), members.map((m) => m.role)],
    );
    await this.refreshMemberCount(id);
    return rows.map((r) => r.user_id);
  }

  async removeMember(id: string, userId: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2', [id, userId]);
    await this.refreshMemberCount(id);
    return r.rowCount > 0;
  }

  private async refreshMemberCount(id: string): Promise<void> {
    await this.db.query('UPDATE conversations SET member_count = (SELECT count(*) FROM members WHERE conversation_id = $1), updated_at = now() WHERE id = $1', [id]);
  }

  async update(id: string, patch: { title?: string | null; topic?: string | null; avatarMediaId?: string | null }): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [col, v] of [
      ['title', patch.title],
      ['topic', patch.topic],
      ['avatar_media_id', patch.avatarMediaId],
    ] as const) {
      if (v === undefined) continue;
      params.push(v);
      sets.push(`${col} = $${params.length}`);
    }
    if (sets.length === 0) return;
    await this.db.query(`UPDATE conversations SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, params);
  }

  async touchActivity(id: string, at: Date): Promise<void> {
    await this.db.query('UPDATE conversations SET last_activity_at = GREATEST(last_activity_at, $2) WHERE id = $1', [id, at]);
  }

  /** Sets new members' read positions to `seq` (only forward). */
  async startReadingAt(id: string, userIds: readonly string[], seq: number): Promise<void> {
    await this.db.query('UPDATE members SET last_read_seq = GREATEST(last_read_seq, $3) WHERE conversation_id = $1 AND user_id = ANY($2::text[])', [id, userIds, seq]);
  }

  /** Moves a read position forward only; returns the position after the call, or null for a non-member. */
  /**
   * Moves the member's read watermark forward and, when it moved, records the `read` event,
   * in one statement: the watermark and its event commit together, and a non-member (no
   * row) gets null, so the caller needs no membership check of its own.
   */
  async advanceRead(id: string, userId: string, seq: number): Promise<{ lastReadSeq: number; moved: boolean } | null> {
    const { rows } = await this.db.query<{ before: number | null; moved: number | null }>(
      `WITH before AS (SELECT last_read_seq FROM members WHERE conversation_id = $1 AND user_id = $2),
       moved AS (UPDATE members SET last_read_seq = $3 WHERE conversation_id = $1 AND user_id = $2 AND last_read_seq < $3 RETURNING last_read_seq),
       event AS (
         INSERT INTO conversation_events (conversation_id, user_id, type, payload)
         SELECT $1, $2, 'read', jsonb_build_object('conversationId', $1::text, 'userId', $2::text, 'seq', last_read_seq) FROM moved
       )
       SELECT (SELECT last_read_seq FROM before) AS before, (SELECT last_read_seq FROM moved) AS moved`,
      [id, userId, seq],
    );
    const r = rows[0];
    if (r?.moved != null) return { lastReadSeq: Number(r.moved), moved: true };
    return r?.before != null ? { lastReadSeq: Number(r.before), moved: false } : null;
  }

  async insertMentions(conversationId: string, messageId: string, seq: number, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.query(
      `INSERT INTO mentions (conversation_id, seq, user_id, message_id) SELECT $1, $2, u, $3 FROM unnest($4::text[]) AS u ON CONFLICT DO NOTHING`,
      [conversationId, seq, messageId, userIds],
    );
  }

  async replaceMentions(conversationId: string, messageId: string, seq: number, userIds: readonly string[]): Promise<void> {
    await this.db.query('DELETE FROM mentions WHERE message_id = $1', [messageId]);
    await this.insertMentions(conversationId, messageId, seq, userIds);
  }

  async unreadMentions(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (positions.length === 0) return out;
    const { rows } = await this.db.query<{ cid: string; n: number }>(
      `SELECT p.cid, count(x.seq) AS n FROM unnest($2::text[], $3::bigint[]) AS p(cid, after_seq)
       LEFT JOIN mentions x ON x.user_id = $1 AND x.conversation_id = p.cid AND x.seq > p.after_seq
       GROUP BY p.cid`,
      [userId, positions.map((p) => p.conversationId), positions.map((p) => p.afterSeq)],
    );
    for (const r of rows) out.set(r.cid, Number(r.n));
    return out;
  }

  async appendEvent(conversationId: string, userId: string | null, type: string, payload: unknown): Promise<void> {
    await this.db.query('INSERT INTO conversation_events (conversation_id, user_id, type, payload) VALUES ($1, $2, $3, $4)', [conversationId, userId, type, JSON.stringify(payload)]);
  }

  /** Events of these conversations, or about this user: one page of a change scan (src/platform/changes.ts), in (xid, id) order. */
  async eventsSince(conversationIds: readonly string[], userId: string, scan: ChangeScan, limit: number): Promise<{ events: (EventRow & { change: string })[]; snapshot: ChangeSnapshot }> {
    const { rows, snapshot } = await scanChanges<EventRow>(this.db, {
      table: 'conversation_events',
      cols: { xid: 'xid', at: 'created_at', id: 'id', idType: 'bigint' },
      select: 'id, conversation_id, user_id, type, payload, created_at',
      where: 'conversation_id = ANY($1::text[]) OR user_id = $2',
      params: [conversationIds, userId],
      scan,
      limit,
    });
    return { events: rows, snapshot };
  }

  /** The current snapshot of event writes: a position that has seen every event so far. */
  eventSnapshot(): Promise<ChangeSnapshot> {
    return currentSnapshot(this.db);
  }
}
