import type { SqlDatabase, SqlExecutor } from '../sql/index.js';
import { isUniqueViolation } from '../sql/index.js';
import { scanChanges, currentSnapshot } from '../sql/change-scan.js';
import { seqPageQuery, seqPageResult } from '../sql/seq-page.js';
import { createdSince, type ChangeScan, type ChangeSnapshot } from '../changes.js';
import type { MessageChange, MessageChangeRow, MessageSearch, MessageStore, NewMessage, StoredMessage } from './message-store.port.js';
import { applyChange } from './message-change.js';

/** A `messages` row as the driver returns it. */
export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  rev: number;
  sender_id: string;
  client_msg_id: string;
  kind: 'user' | 'system';
  text: string | null;
  attachments: string[];
  reply_to_id: string | null;
  mentions: string[];
  reactions: Record<string, string[]>;
  system: StoredMessage['system'];
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
  updated_at: Date;
}

/** The columns of a message, in `toMessage` order (also used by the send statement). */
export const MESSAGE_COLS = 'id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, attachments, reply_to_id, mentions, reactions, system, created_at, edited_at, deleted_at, updated_at';

/** A row of `messages` as the port's StoredMessage. */
export function toMessage(r: MessageRow): StoredMessage {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    seq: Number(r.seq),
    rev: Number(r.rev),
    senderId: r.sender_id,
    clientMsgId: r.client_msg_id,
    kind: r.kind,
    text: r.text,
    attachments: r.attachments ?? [],
    replyToId: r.reply_to_id,
    mentions: r.mentions ?? [],
    reactions: r.reactions ?? {},
    system: r.system,
    createdAt: r.created_at,
    editedAt: r.edited_at,
    deletedAt: r.deleted_at,
    updatedAt: r.updated_at,
  };
}

/**
 * Messages in the SQL database. `seq` and `rev` come from one counter row per
 * conversation, locked by the increment until the transaction commits: concurrent senders
 * (in any number of processes) queue on it, and a rolled-back send gives its number back,
 * so seqs have no gaps.
 */
export class SqlMessageStore implements MessageStore {
  /** Messages live in the SQL database: a send writes the message in its own statement (messages module). */
  readonly inSqlDatabase = true;
  constructor(private readonly db: SqlDatabase) {}

  async insert(msg: NewMessage): Promise<{ message: StoredMessage; created: boolean }> {
    // No lookup first: the messages service already made one before validating, and a
    // duplicate here fails on the unique index, rolls back (its seq included) and returns
    // the stored message below. One query less on the send path.
    try {
      const message = await this.db.transaction(async (tx) => {
        const { rows } = await tx.query<{ last_seq: number; last_rev: number }>(
          `INSERT INTO message_counters (conversation_id, last_seq, last_rev) VALUES ($1, 1, 1)
           ON CONFLICT (conversation_id) DO UPDATE
             SET last_seq = message_counters.last_seq + 1, last_rev = message_counters.last_rev + 1
           RETURNING last_seq, last_rev`,
          [msg.conversationId],
        );
        const { last_seq: seq, last_rev: rev } = rows[0]!;
        const ins = await tx.query<MessageRow>(
          `INSERT INTO messages (id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, attachments, reply_to_id, mentions, reactions, system, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}', $12, clock_timestamp(), clock_timestamp())
           RETURNING ${MESSAGE_COLS}`,
          [
            msg.id,
            msg.conversationId,
            seq,
            rev,
            msg.senderId,
            msg.clientMsgId,
            msg.kind,
            msg.text,
            JSON.stringify(msg.attachments),
            msg.replyToId,
            JSON.stringify(msg.mentions),
            msg.system === null ? null : JSON.stringify(msg.system),
          ],
        );
        return toMessage(ins.rows[0]!);
      });
      return { message, created: true };
    } catch (err) {
      // A concurrent retry with the same clientMsgId won: ours rolled back (seq included).
      if (isUniqueViolation(err, 'messages_sender_client')) {
        const winner = await this.findByClientMsgId(msg.senderId, msg.clientMsgId);
        if (winner) return { message: winner, created: false };
      }
      throw err;
    }
  }

  async findById(conversationId: string, messageId: string): Promise<StoredMessage | null> {
    const { rows } = await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE id = $1 AND conversation_id = $2`, [messageId, conversationId]);
    return rows[0] ? toMessage(rows[0]) : null;
  }

  async findByIds(conversationId: string, messageIds: readonly string[]): Promise<StoredMessage[]> {
    if (messageIds.length === 0) return [];
    // By primary key alone, the conversation checked here: with `conversation_id = $2` in the
    // statement, a planner that thinks the conversation small (new or stale statistics)
    // scans all of its messages through the conversation's index instead.
    const { rows } = await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE id = ANY($1::text[])`, [[...messageIds]]);
    return rows.filter((r) => r.conversation_id === conversationId).map(toMessage);
  }

  async findByClientMsgId(senderId: string, clientMsgId: string): Promise<StoredMessage | null> {
    const { rows } = await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE sender_id = $1 AND client_msg_id = $2`, [senderId, clientMsgId]);
    return rows[0] ? toMessage(rows[0]) : null;
  }

  async list(conversationId: string, opts: { beforeSeq?: number; afterSeq?: number; limit: number }): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    // "after" pages forward from the cursor; otherwise the newest page (before the cursor).
    const { where, order, params } = seqPageQuery('conversation_id', conversationId, opts);
    // An older page (before a seq the client already holds) is settled history: a replica
    // may serve it. The newest page and forward pages (gap fills) must see the latest writes.
    const reader = opts.beforeSeq !== undefined && opts.afterSeq === undefined ? this.db.lagTolerant : this.db;
    const { rows } = await reader.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE ${where} ORDER BY seq ${order} LIMIT $2`, params);
    const { page, hasMore } = seqPageResult(rows, opts, order);
    return { messages: page.map(toMessage), hasMore };
  }

  async apply(conversationId: string, messageId: string, change: MessageChange): Promise<{ message: StoredMessage; changed: boolean } | null> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE id = $1 AND conversation_id = $2 FOR UPDATE`, [messageId, conversationId]);
      if (!rows[0]) return null;
      const current = toMessage(rows[0]);
      const next = applyChange(current, change);
      if (!next) return { message: current, changed: false };
      const rev = await this.bumpRev(tx, conversationId);
      const upd = await tx.query<MessageRow>(
        `UPDATE messages SET rev = $3, text = $4, mentions = $5, reactions = $6, edited_at = $7, deleted_at = $8, attachments = $9, updated_at = clock_timestamp(),
             xid = pg_current_xact_id()
         WHERE id = $1 AND conversation_id = $2 RETURNING ${MESSAGE_COLS}`,
        [messageId, conversationId, rev, next.text, JSON.stringify(next.mentions), JSON.stringify(next.reactions), next.editedAt, next.deletedAt, JSON.stringify(next.attachments)],
      );
      return { message: toMessage(upd.rows[0]!), changed: true };
    });
  }

  private async bumpRev(tx: SqlExecutor, conversationId: string): Promise<number> {
    const { rows } = await tx.query<{ last_rev: number }>('UPDATE message_counters SET last_rev = last_rev + 1 WHERE conversation_id = $1 RETURNING last_rev', [conversationId]);
    return rows[0]!.last_rev;
  }

  async heads(conversationIds: readonly string[]): Promise<Map<string, { lastSeq: number; lastMessage: StoredMessage | null }>> {
    const out = new Map<string, { lastSeq: number; lastMessage: StoredMessage | null }>();
    if (conversationIds.length === 0) return out;
    const { rows } = await this.db.query<MessageRow>(
      `SELECT ${MESSAGE_COLS.split(', ').map((c) => `m.${c}`).join(', ')}
       FROM message_counters c JOIN messages m ON m.conversation_id = c.conversation_id AND m.seq = c.last_seq
       WHERE c.conversation_id = ANY($1::text[])`,
      [conversationIds],
    );
    for (const r of rows) out.set(r.conversation_id, { lastSeq: Number(r.seq), lastMessage: toMessage(r) });
    return out;
  }

  async countUnread(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (positions.length === 0) return out;
    const { rows } = await this.db.query<{ conversation_id: string; n: number }>(
      `SELECT p.cid AS conversation_id, count(m.id) AS n
       FROM unnest($2::text[], $3::bigint[]) AS p(cid, after_seq)
       LEFT JOIN messages m ON m.conversation_id = p.cid AND m.seq > p.after_seq
         AND m.sender_id <> $1 AND m.kind = 'user' AND m.deleted_at IS NULL
       GROUP BY p.cid`,
      [userId, positions.map((p) => p.conversationId), positions.map((p) => p.afterSeq)],
    );
    for (const r of rows) out.set(r.conversation_id, Number(r.n));
    return out;
  }

  async changedSince(conversationIds: readonly string[], scan: ChangeScan, limit: number): Promise<{ changes: MessageChangeRow[]; snapshot: ChangeSnapshot }> {
    // Always the primary: a replica's snapshots are not the primary's.
    const { rows, snapshot } = await scanChanges<MessageRow & { created_xid: string }>(this.db, {
      table: 'messages',
      cols: { xid: 'xid', at: 'updated_at', id: 'id', idType: 'text' },
      select: `${MESSAGE_COLS}, created_xid::text AS created_xid`,
      where: 'conversation_id = ANY($1::text[])',
      params: [conversationIds],
      scan,
      limit,
    });
    const { from } = scan;
    const changes = rows.map((r) => ({
      message: toMessage(r),
      change: BigInt(r.change),
      // New to the reader: created after what `from` had seen.
      isNew: createdSince(from, BigInt(r.created_xid), r.created_at),
    }));
    return { changes, snapshot };
  }

  changeSnapshot(): Promise<ChangeSnapshot> {
    return currentSnapshot(this.db);
  }

  /**
   * `search_tsv` (generated from text with the 'simple' configuration, GIN-indexed) against
   * a prefix query: every term as `'term':*`, all required. The terms are letters and
   * digits only, and quoted besides, so user input never reaches tsquery syntax.
   */
  async search(q: MessageSearch): Promise<StoredMessage[]> {
    if (q.conversationIds.length === 0 || q.terms.length === 0) return [];
    const tsquery = q.terms.map((t) => `'${t.replace(/'/g, "''").replace(/\\/g, '')}':*`).join(' & ');
    const ms = `date_trunc('milliseconds', created_at)`;
    const params: unknown[] = [q.conversationIds, tsquery, q.limit];
    const where = [`conversation_id = ANY($1::text[])`, `search_tsv @@ to_tsquery('simple', $2)`, `kind = 'user'`, `deleted_at IS NULL`];
    const add = (cond: (n: string) => string, ...values: unknown[]) => {
      const names = values.map((v) => {
        params.push(v);
        return `$${params.length}`;
      });
      where.push(cond(names.join(',')));
    };
    if (q.senderId !== undefined) add((n) => `sender_id = ${n}`, q.senderId);
    if (q.before) add((n) => `${ms} < ${n}`, q.before);
    if (q.after) add((n) => `${ms} > ${n}`, q.after);
    if (q.hasAttachment) where.push(`attachments <> '[]'::jsonb`);
    if (q.olderThan) {
      params.push(q.olderThan.at, q.olderThan.id);
      where.push(`(${ms}, id) < ($${params.length - 1}::timestamptz, $${params.length}::text)`);
    }
    const { rows } = await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE ${where.join(' AND ')} ORDER BY ${ms} DESC, id DESC LIMIT $3`, params);
    return rows.map(toMessage);
  }

  async ping(): Promise<void> {
    await this.db.ping();
  }

  async close(): Promise<void> {
    // the SQL database is closed by its owner
  }
}
