import type { SqlExecutor } from '../../platform/sql/index.js';
import { isUniqueViolation } from '../../platform/sql/index.js';
import type { StoredMessage } from '../../platform/message-store/index.js';
import { MESSAGE_COLS, toMessage, type MessageRow } from '../../platform/message-store/message-store.sql.js';
import type { JobKind } from '../../platform/jobs/jobs.port.js';
import { SEND_OUTBOX_KIND } from '../outbox/outbox.repository.js';

/** What a user send writes (the message itself, when the SQL store keeps it). */
export interface SendRow {
  id: string;
  conversationId: string;
  senderId: string;
  clientMsgId: string;
  text: string | null;
  attachments: readonly string[];
  replyToId: string | null;
  mentions: readonly string[];
}

/**
 * The rows every send writes besides the message, as CTEs reading the messages from a CTE
 * called `msg` (id, conversation_id, seq, sender_id, created_at; one row per message of the
 * statement): mentions, media posts, the conversations' activity, the senders' read
 * positions (sending means you have read up to your own message), and the send's outbox
 * row (one per message, naming its jobs: see SEND_OUTBOX_KIND). Per-message lists come as
 * two parallel text[] parameters each (the message id, the value), so one statement serves
 * any number of messages. Every part is idempotent (ON
 * CONFLICT DO NOTHING, GREATEST), so the MongoDB path can run it again to repair a send.
 * A row may be updated only once per statement: activity and watermarks are aggregated per
 * conversation and per (conversation, sender) first.
 */
function sideEffectCtes(p: { mentions: number; media: number; kinds: number }): string {
  return `
  ment AS (
    INSERT INTO mentions (conversation_id, seq, user_id, message_id)
    SELECT msg.conversation_id, msg.seq, l.v, msg.id FROM msg JOIN unnest($${p.mentions}::text[], $${p.mentions + 1}::text[]) AS l(mid, v) ON l.mid = msg.id
    ON CONFLICT DO NOTHING
  ),
  posts AS (
    INSERT INTO media_posts (media_id, conversation_id)
    SELECT DISTINCT l.v, msg.conversation_id FROM msg JOIN unnest($${p.media}::text[], $${p.media + 1}::text[]) AS l(mid, v) ON l.mid = msg.id
    ON CONFLICT (media_id, conversation_id) DO NOTHING
  ),
  activity AS (
    UPDATE conversations c SET last_activity_at = GREATEST(c.last_activity_at, a.at)
    FROM (SELECT conversation_id, max(created_at) AS at FROM msg GROUP BY conversation_id) a WHERE c.id = a.conversation_id
  ),
  watermark AS (
    UPDATE members mb SET last_read_seq = GREATEST(mb.last_read_seq, w.seq)
    FROM (SELECT conversation_id, sender_id, max(seq) AS seq FROM msg GROUP BY conversation_id, sender_id) w
    WHERE mb.conversation_id = w.conversation_id AND mb.user_id = w.sender_id
  ),
  jobs AS (
    INSERT INTO outbox (id, kind, payload)
    SELECT '${SEND_OUTBOX_KIND}:' || msg.id, '${SEND_OUTBOX_KIND}',
      jsonb_build_object('messageId', msg.id, 'conversationId', msg.conversation_id, 'seq', msg.seq, 'senderId', msg.sender_id, 'jobs', to_jsonb(k.kinds))
    FROM msg JOIN (
      SELECT l.mid, array_agg(l.v ORDER BY l.n) AS kinds
      FROM unnest($${p.kinds}::text[], $${p.kinds + 1}::text[]) WITH ORDINALITY AS l(mid, v, n) GROUP BY l.mid
    ) k ON k.mid = msg.id
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )`;
}

/** One message's lists as the (message id, value) pairs sideEffectCtes takes. */
function pairs(items: readonly { id: string; values: readonly string[] }[]): [string[], string[]] {
  const ids: string[] = [];
  const values: string[] = [];
  for (const it of items) {
    for (const v of it.values) {
      ids.push(it.id);
      values.push(v);
    }
  }
  return [ids, values];
}

/**
 * The sender's membership, locked: a removal (which deletes this row) waits for the send to
 * commit, and a send after the removal finds no row and writes nothing. This is the
 * membership check of the send; it costs no round trip of its own.
 *
 * FOR NO KEY UPDATE, not FOR SHARE: the same statement updates this row (the sender's read
 * watermark), and two concurrent sends of one sender (two devices, two processes) that both
 * held a share lock would each wait for the other to upgrade it: a deadlock (40P01). With
 * the update's own lock mode taken up front they simply queue.
 *
 * The conversation row is locked first, then the member row: the order a membership change
 * takes them in (it locks the conversation, then deletes or adds members), so a send and a
 * removal queue instead of deadlocking (the send updates the conversation's activity).
 */
const GATE = `gate AS (SELECT 1 FROM conversations c JOIN members m ON m.conversation_id = c.id
  WHERE c.id = $1 AND m.user_id = $2 FOR NO KEY UPDATE OF c, m)`;

/**
 * `absent`: nothing was written because the sender is not a member, is blocked, or already used this
 * clientMsgId (the caller tells which by looking it up); `duplicate`: a concurrent copy of
 * this send committed first.
 */
export type SendOutcome = { kind: 'stored'; message: StoredMessage } | { kind: 'absent' } | { kind: 'duplicate' };

/** One send of a statement: its row and the kinds of its outbox jobs. */
export interface SendItem {
  row: SendRow;
  kinds: readonly JobKind[];
}

/**
 * Any number of user sends (a group commit's batch, or one alone) in ONE statement: one
 * round trip, atomic on its own (a failure in any part rolls back every part of every
 * send, their seqs included), no transaction around it.
 *
 * - `input`: the sends, with their order of arrival (`ord`).
 * - `gate`: the sends whose sender is a member, is not blocked by the other member of a
 *   direct conversation, and has not used this clientMsgId (so a retry writes nothing and
 *   raises nothing). Their conversation and member rows are locked FOR NO KEY UPDATE in
 *   (conversation, user) order, the LockRows node sitting above the sort: every send
 *   statement and every membership change (which locks the conversation, then its members)
 *   takes them in that order, so they queue instead of deadlocking. A removal (which
 *   deletes the member row) waits for the send to commit, and a send after it finds no row.
 *   FOR NO KEY UPDATE, not FOR SHARE: the statement updates the member row (the read
 *   watermark), and two holders of a share lock would each wait for the other to upgrade.
 * - `alloc`: each conversation's counter moves by its number of sends, once (a row may be
 *   updated once per statement), in conversation order; `msg` numbers the sends of a
 *   conversation by arrival below the new head: no gap, no duplicate.
 *
 * Only a copy not yet committed (a concurrent statement, or two sends of one batch with the
 * same clientMsgId) can fail the statement, on the unique index.
 */
const SEND_MANY = `/* send */ WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
      AS i(conversation_id, sender_id, id, client_msg_id, text, attachments, reply_to_id, mentions, ord)
  ),
  gate AS (
    SELECT i.* FROM input i
    JOIN conversations c ON c.id = i.conversation_id
    JOIN members m ON m.conversation_id = c.id AND m.user_id = i.sender_id
    WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.sender_id = i.sender_id AND x.client_msg_id = i.client_msg_id)
      AND NOT (c.type = 'direct' AND EXISTS (SELECT 1 FROM blocks b
        WHERE b.blocked_id = i.sender_id AND c.direct_key IN (b.user_id || ':' || i.sender_id, i.sender_id || ':' || b.user_id)))
    ORDER BY c.id, m.user_id
    FOR NO KEY UPDATE OF c, m
  ),
  counts AS (SELECT conversation_id, count(*) AS n FROM gate GROUP BY conversation_id),
  alloc AS (
    INSERT INTO message_counters (conversation_id, last_seq, last_rev)
    SELECT conversation_id, n, n FROM counts ORDER BY conversation_id
    ON CONFLICT (conversation_id) DO UPDATE
      SET last_seq = message_counters.last_seq + EXCLUDED.last_seq, last_rev = message_counters.last_rev + EXCLUDED.last_rev
    RETURNING conversation_id, last_seq, last_rev
  ),
  numbered AS (
    SELECT g.*, a.last_seq - c.n + row_number() OVER (PARTITION BY g.conversation_id ORDER BY g.ord) AS seq, a.last_rev - a.last_seq AS rev_offset
    FROM gate g JOIN counts c USING (conversation_id) JOIN alloc a USING (conversation_id)
  ),
  msg AS (
    INSERT INTO messages (id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, attachments, reply_to_id, mentions, reactions, system, created_at, updated_at)
    SELECT id, conversation_id, seq, seq + rev_offset, sender_id, client_msg_id, 'user', text, attachments::jsonb, reply_to_id, mentions::jsonb, '{}', NULL, clock_timestamp(), clock_timestamp()
    FROM numbered ORDER BY conversation_id, seq
    RETURNING ${MESSAGE_COLS}
  ),${sideEffectCtes({ mentions: 9, media: 11, kinds: 13 })}
SELECT * FROM msg`;

/** The SQL half of a send in one statement (see SEND_MANY). */
export class SendRepository {
  constructor(private readonly db: SqlExecutor) {}

  /**
   * Stores user messages in the SQL message store, each with everything else its send
   * writes, in one statement; one outcome per send, in order. Alone (one send) a
   * concurrent copy on the unique index answers `duplicate`; in a batch it is thrown: it
   * rolled the statement back, and the batcher runs the batch again in halves.
   */
  async storeMany(items: readonly SendItem[]): Promise<SendOutcome[]> {
    const col = <T>(f: (r: SendRow) => T) => items.map((it) => f(it.row));
    const [mentionIds, mentionUsers] = pairs(col((r) => ({ id: r.id, values: r.mentions })));
    const [mediaIds, media] = pairs(col((r) => ({ id: r.id, values: r.attachments })));
    const [kindIds, kinds] = pairs(items.map((it) => ({ id: it.row.id, values: it.kinds })));
    try {
      const { rows } = await this.db.query<MessageRow>(SEND_MANY, [
        col((r) => r.conversationId),
        col((r) => r.senderId),
        col((r) => r.id),
        col((r) => r.clientMsgId),
        col((r) => r.text),
        col((r) => JSON.stringify(r.attachments)),
        col((r) => r.replyToId),
        col((r) => JSON.stringify(r.mentions)),
        mentionIds,
        mentionUsers,
        mediaIds,
        media,
        kindIds,
        kinds,
      ]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return items.map((it): SendOutcome => {
        const r = byId.get(it.row.id);
        return r ? { kind: 'stored', message: toMessage(r) } : { kind: 'absent' };
      });
    } catch (err) {
      // A concurrent copy of this send was stored first; ours rolled back whole.
      if (items.length === 1 && isUniqueViolation(err, 'messages_sender_client')) return [{ kind: 'duplicate' }];
      throw err;
    }
  }

  /**
   * The SQL half of a send whose message is stored elsewhere (MongoDB), given the stored
   * message. Idempotent: run again for the same message it adds only what is missing.
   * Resolves `repaired: true` when it wrote the outbox rows now (this call completed the
   * send), false when an earlier call had, or null when the sender is not a member.
   */
  async storeSideEffects(m: StoredMessage, jobKinds: readonly JobKind[]): Promise<{ completedNow: boolean } | null> {
    const sql = `WITH ${GATE},
  msg AS (SELECT $3::text AS id, $1::text AS conversation_id, $4::bigint AS seq, $2::text AS sender_id, $5::timestamptz AS created_at FROM gate),${sideEffectCtes({ mentions: 6, media: 8, kinds: 10 })}
SELECT (SELECT count(*) FROM msg) AS member, (SELECT count(*) FROM jobs) AS written`;
    const { rows } = await this.db.query<{ member: number; written: number }>(sql, [
      m.conversationId,
      m.senderId,
      m.id,
      m.seq,
      m.createdAt,
      ...pairs([{ id: m.id, values: m.mentions }]),
      ...pairs([{ id: m.id, values: m.attachments }]),
      ...pairs([{ id: m.id, values: jobKinds }]),
    ]);
    const r = rows[0]!;
    if (Number(r.member) === 0) return null;
    return { completedNow: Number(r.written) > 0 };
  }
}
