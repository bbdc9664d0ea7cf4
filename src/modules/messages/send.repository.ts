import type { SqlExecutor } from '../../platform/sql/index.js';
import { isUniqueViolation } from '../../platform/sql/index.js';
import type { StoredMessage } from '../../platform/message-store/index.js';
import { MESSAGE_COLS, toMessage, type MessageRow } from '../../platform/message-store/message-store.sql.js';
import type { JobKind } from '../../platform/jobs/jobs.port.js';

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

/** The job id of `kind` for a message: derived from the message id, so consumers can drop a duplicate. */
export function sendJobId(kind: JobKind, messageId: string): string {
  return `${kind}:${messageId}`;
}

/**
 * The rows every send writes besides the message, as CTEs reading the message from a CTE
 * called `msg` (id, conversation_id, seq, sender_id, created_at): mentions, media posts,
 * the conversation's activity, the sender's read position (sending means you have read up
 * to your own message), and one outbox row per job. Every part is idempotent (ON
 * CONFLICT DO NOTHING, GREATEST), so the MongoDB path can run it again to repair a send.
 * `$2` is the sender, `$p.mentions`, `$p.media`, `$p.kinds` are text[] parameters.
 */
function sideEffectCtes(p: { mentions: number; media: number; kinds: number }): string {
  return `
  ment AS (
    INSERT INTO mentions (conversation_id, seq, user_id, message_id)
    SELECT msg.conversation_id, msg.seq, u, msg.id FROM msg, unnest($${p.mentions}::text[]) AS u
    ON CONFLICT DO NOTHING
  ),
  posts AS (
    INSERT INTO media_posts (media_id, conversation_id)
    SELECT DISTINCT m, msg.conversation_id FROM msg, unnest($${p.media}::text[]) AS m
    ON CONFLICT (media_id, conversation_id) DO NOTHING
  ),
  activity AS (
    UPDATE conversations c SET last_activity_at = GREATEST(c.last_activity_at, msg.created_at)
    FROM msg WHERE c.id = msg.conversation_id
  ),
  watermark AS (
    UPDATE members mb SET last_read_seq = GREATEST(mb.last_read_seq, msg.seq)
    FROM msg WHERE mb.conversation_id = msg.conversation_id AND mb.user_id = msg.sender_id
  ),
  jobs AS (
    INSERT INTO outbox (id, kind, payload)
    SELECT k || ':' || msg.id, k,
      jsonb_build_object('messageId', msg.id, 'conversationId', msg.conversation_id, 'seq', msg.seq, 'senderId', msg.sender_id)
    FROM msg, unnest($${p.kinds}::text[]) AS k
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )`;
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
 */
const GATE = `gate AS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2 FOR NO KEY UPDATE)`;

export type SendOutcome = { kind: 'stored'; message: StoredMessage } | { kind: 'not_member' } | { kind: 'duplicate' };

/**
 * The SQL half of a send in one statement (one round trip, atomic on its own: a failure in
 * any part rolls back every part, the seq included).
 */
export class SendRepository {
  constructor(private readonly db: SqlExecutor) {}

  /**
   * Stores a user message in the SQL message store with everything else the send writes.
   * `duplicate`: the sender already used this clientMsgId (nothing was written).
   */
  async storeWithMessage(row: SendRow, jobKinds: readonly JobKind[]): Promise<SendOutcome> {
    const sql = `WITH ${GATE},
  alloc AS (
    INSERT INTO message_counters (conversation_id, last_seq, last_rev) SELECT $1, 1, 1 FROM gate
    ON CONFLICT (conversation_id) DO UPDATE
      SET last_seq = message_counters.last_seq + 1, last_rev = message_counters.last_rev + 1
    RETURNING last_seq, last_rev
  ),
  msg AS (
    INSERT INTO messages (id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, attachments, reply_to_id, mentions, reactions, system, created_at, updated_at)
    SELECT $3, $1, alloc.last_seq, alloc.last_rev, $2, $4, 'user', $5, $6::jsonb, $7, $8::jsonb, '{}', NULL, clock_timestamp(), clock_timestamp() FROM alloc
    RETURNING ${MESSAGE_COLS}
  ),${sideEffectCtes({ mentions: 9, media: 10, kinds: 11 })}
SELECT * FROM msg`;
    try {
      const { rows } = await this.db.query<MessageRow>(sql, [
        row.conversationId,
        row.senderId,
        row.id,
        row.clientMsgId,
        row.text,
        JSON.stringify(row.attachments),
        row.replyToId,
        JSON.stringify(row.mentions),
        row.mentions,
        row.attachments,
        jobKinds,
      ]);
      return rows[0] ? { kind: 'stored', message: toMessage(rows[0]) } : { kind: 'not_member' };
    } catch (err) {
      // A retry (or a concurrent copy) of this send was stored first; ours rolled back whole.
      if (isUniqueViolation(err, 'messages_sender_client')) return { kind: 'duplicate' };
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
  msg AS (SELECT $3::text AS id, $1::text AS conversation_id, $4::bigint AS seq, $2::text AS sender_id, $5::timestamptz AS created_at FROM gate),${sideEffectCtes({ mentions: 6, media: 7, kinds: 8 })}
SELECT (SELECT count(*) FROM msg) AS member, (SELECT count(*) FROM jobs) AS written`;
    const { rows } = await this.db.query<{ member: number; written: number }>(sql, [
      m.conversationId,
      m.senderId,
      m.id,
      m.seq,
      m.createdAt,
      m.mentions,
      m.attachments,
      jobKinds,
    ]);
    const r = rows[0]!;
    if (Number(r.member) === 0) return null;
    return { completedNow: Number(r.written) > 0 };
  }
}
