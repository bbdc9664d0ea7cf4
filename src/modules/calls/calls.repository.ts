import type { SqlExecutor } from '../../platform/sql/index.js';
import type { Call, CallKind, CallParticipant, CallProvider } from '../../../sdk/types.js';

export type CallStatus = Call['status'];
export type EndReason = NonNullable<Call['endReason']>;
export type ParticipantState = CallParticipant['state'];

export interface CallRow {
  id: string;
  conversation_id: string;
  kind: CallKind;
  provider: CallProvider;
  provider_call_id: string;
  status: CallStatus;
  end_reason: EndReason | null;
  created_by: string;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  duration_seconds: number | null;
}

export interface ParticipantRow {
  call_id: string;
  user_id: string;
  state: ParticipantState;
  invited_at: Date;
  joined_at: Date | null;
  left_at: Date | null;
  seconds: number;
}

const CALL_COLS = 'id, conversation_id, kind, provider, provider_call_id, status, end_reason, created_by, created_at, started_at, ended_at, duration_seconds';
const PART_COLS = 'call_id, user_id, state, invited_at, joined_at, left_at, seconds';

/** The public shape of a call, from its row and its participants. */
export function callView(row: CallRow, parts: readonly ParticipantRow[]): Call {
  const call: Call = {
    id: row.id,
    conversationId: row.conversation_id,
    kind: row.kind,
    provider: row.provider,
    status: row.status,
    createdBy: row.created_by,
    participants: parts.map((p) => {
      const v: CallParticipant = { userId: p.user_id, state: p.state, seconds: p.seconds };
      if (p.joined_at) v.joinedAt = p.joined_at.toISOString();
      if (p.left_at) v.leftAt = p.left_at.toISOString();
      return v;
    }),
    createdAt: row.created_at.toISOString(),
  };
  if (row.end_reason) call.endReason = row.end_reason;
  if (row.started_at) call.startedAt = row.started_at.toISOString();
  if (row.ended_at) call.endedAt = row.ended_at.toISOString();
  if (row.duration_seconds !== null) call.durationSeconds = row.duration_seconds;
  return call;
}

/** The `calls`, `call_participants`, `call_webhook_events` and `call_stats_daily` tables. */
export class CallsRepository {
  constructor(private readonly sql: SqlExecutor) {}

  async insert(row: Pick<CallRow, 'id' | 'conversation_id' | 'kind' | 'provider' | 'provider_call_id' | 'created_by'>, memberIds: readonly string[]): Promise<void> {
    await this.sql.query(
      `INSERT INTO calls (id, conversation_id, kind, provider, provider_call_id, status, created_by) VALUES ($1, $2, $3, $4, $5, 'ringing', $6)`,
      [row.id, row.conversation_id, row.kind, row.provider, row.provider_call_id, row.created_by],
    );
    // One statement for the whole group: the caller is in, everyone else is rung.
    await this.sql.query(
      `INSERT INTO call_participants (call_id, user_id, state, joined_at)
       SELECT $1, u, CASE WHEN u = $2 THEN 'joined' ELSE 'invited' END, CASE WHEN u = $2 THEN now() END
         FROM unnest($3::text[]) AS u`,
      [row.id, row.created_by, [...new Set([row.created_by, ...memberIds])]],
    );
  }

  /** A member who joined the group after the call began was not invited: added as they join or decline. */
  async addParticipant(callId: string, userId: string): Promise<void> {
    await this.sql.query(`INSERT INTO call_participants (call_id, user_id, state) VALUES ($1, $2, 'invited') ON CONFLICT DO NOTHING`, [callId, userId]);
  }

  async find(id: string): Promise<CallRow | null> {
    const r = await this.sql.query<CallRow>(`SELECT ${CALL_COLS} FROM calls WHERE id = $1`, [id]);
    return r.rows[0] ?? null;
  }

  /** The row, locked until the end of the transaction (status changes are serialized per call). */
  async lock(id: string): Promise<CallRow | null> {
    const r = await this.sql.query<CallRow>(`SELECT ${CALL_COLS} FROM calls WHERE id = $1 FOR UPDATE`, [id]);
    return r.rows[0] ?? null;
  }

  async openInConversation(conversationId: string): Promise<CallRow | null> {
    const r = await this.sql.query<CallRow>(`SELECT ${CALL_COLS} FROM calls WHERE conversation_id = $1 AND status <> 'ended'`, [conversationId]);
    return r.rows[0] ?? null;
  }

  async byProviderId(provider: CallProvider, providerCallId: string): Promise<CallRow | null> {
    const r = await this.sql.query<CallRow>(`SELECT ${CALL_COLS} FROM calls WHERE provider = $1 AND provider_call_id = $2`, [provider, providerCallId]);
    return r.rows[0] ?? null;
  }

  async participants(callIds: readonly string[]): Promise<ParticipantRow[]> {
    if (callIds.length === 0) return [];
    const r = await this.sql.query<ParticipantRow>(`SELECT ${PART_COLS} FROM call_participants WHERE call_id = ANY($1) ORDER BY invited_at, user_id`, [callIds]);
    return r.rows;
  }

  async setParticipant(callId: string, userId: string, patch: { state: ParticipantState; joinedAt?: Date | null; leftAt?: Date | null; seconds?: number }): Promise<void> {
    await this.sql.query(
      `UPDATE call_participants SET state = $3,
         joined_at = CASE WHEN $4::boolean THEN $5::timestamptz ELSE joined_at END,
         left_at = CASE WHEN $6::boolean THEN $7::timestamptz ELSE left_at END,
         seconds = COALESCE($8::integer, seconds)
       WHERE call_id = $1 AND user_id = $2`,
      [callId, userId, patch.state, patch.joinedAt !== undefined, patch.joinedAt ?? null, patch.leftAt !== undefined, patch.leftAt ?? null, patch.seconds ?? null],
    );
  }

  async markActive(callId: string, at: Date): Promise<void> {
    await this.sql.query(`UPDATE calls SET status = 'active', started_at = COALESCE(started_at, $2) WHERE id = $1 AND status = 'ringing'`, [callId, at]);
  }

  async markEnded(callId: string, reason: EndReason, at: Date, durationSeconds: number): Promise<void> {
    await this.sql.query(`UPDATE calls SET status = 'ended', end_reason = $2, ended_at = $3, duration_seconds = $4 WHERE id = $1 AND status <> 'ended'`, [callId, reason, at, durationSeconds]);
  }

  async storeStats(callId: string, stats: unknown): Promise<void> {
    await this.sql.query('UPDATE calls SET stats = $2 WHERE id = $1', [callId, JSON.stringify(stats)]);
  }

  async stats(callId: string): Promise<unknown> {
    const r = await this.sql.query<{ stats: unknown }>('SELECT stats FROM calls WHERE id = $1', [callId]);
    return r.rows[0]?.stats ?? null;
  }

  /** Newest first, keyset-paged by (created_at, id). */
  async history(conversationId: string, limit: number, before?: { at: Date; id: string }): Promise<CallRow[]> {
    // Ordered and compared at the cursor's precision (milliseconds: a JS Date), or calls
    // started later in the same millisecond as a page's last one would be skipped.
    const at = `date_trunc('milliseconds', created_at)`;
    const r = before
      ? await this.sql.query<CallRow>(`SELECT ${CALL_COLS} FROM calls WHERE conversation_id = $1 AND (${at}, id) < ($2, $3) ORDER BY ${at} DESC, id DESC LIMIT $4`, [conversationId, before.at, before.id, limit])
      : await this.sql.query<CallRow>(`SELECT ${CALL_COLS} FROM calls WHERE conversation_id = $1 ORDER BY ${at} DESC, id DESC LIMIT $2`, [conversationId, limit]);
    return r.rows;
  }

  /** Open calls that `userId` is in (joined) right now. */
  async openJoinedBy(userId: string): Promise<string[]> {
    const r = await this.sql.query<{ id: string }>(
      `SELECT c.id FROM calls c JOIN call_participants p ON p.call_id = c.id WHERE p.user_id = $1 AND p.state = 'joined' AND c.status <> 'ended'`,
      [userId],
    );
    return r.rows.map((x) => x.id);
  }

  /** Calls ringing for longer than `seconds`, or open for longer than `maxSeconds`. */
  async overdue(ringSeconds: number, maxSeconds: number): Promise<string[]> {
    const r = await this.sql.query<{ id: string }>(
      `SELECT id FROM calls WHERE (status = 'ringing' AND created_at < now() - make_interval(secs => $1))
          OR (status <> 'ended' AND created_at < now() - make_interval(secs => $2)) LIMIT 500`,
      [ringSeconds, maxSeconds],
    );
    return r.rows.map((x) => x.id);
  }

  /** Claims a webhook delivery; false when it was applied before (a retry or a replay). */
  async claimWebhook(provider: CallProvider, eventId: string, eventType: string, callId: string | null): Promise<boolean> {
    const r = await this.sql.query('INSERT INTO call_webhook_events (provider, event_id, event_type, call_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING event_id', [provider, eventId, eventType, callId]);
    return r.rows.length === 1;
  }

  /**
   * Recomputes one conversation's day (UTC, by call creation) from the calls themselves:
   * the same answer however often and in whatever order it runs.
   */
  async recomputeDay(conversationId: string, day: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO call_stats_daily (conversation_id, day, calls, missed, seconds, participants, updated_at)
       SELECT $1, $2::date,
              count(*)::int,
              count(*) FILTER (WHERE c.end_reason IN ('missed', 'declined'))::int,
              COALESCE(sum(c.duration_seconds), 0)::bigint,
              (SELECT count(DISTINCT p.user_id)::int FROM call_participants p JOIN calls c2 ON c2.id = p.call_id
                WHERE c2.conversation_id = $1 AND c2.status = 'ended' AND (c2.created_at AT TIME ZONE 'UTC')::date = $2::date AND p.joined_at IS NOT NULL),
              now()
         FROM calls c
        WHERE c.conversation_id = $1 AND c.status = 'ended' AND (c.created_at AT TIME ZONE 'UTC')::date = $2::date
       ON CONFLICT (conversation_id, day) DO UPDATE SET calls = EXCLUDED.calls, missed = EXCLUDED.missed, seconds = EXCLUDED.seconds,
              participants = EXCLUDED.participants, updated_at = EXCLUDED.updated_at`,
      [conversationId, day],
    );
  }

  async daily(conversationId: string): Promise<{ day: string; calls: number; missed: number; seconds: number; participants: number }[]> {
    const r = await this.sql.query<{ day: string; calls: number; missed: number; seconds: string; participants: number }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, calls, missed, seconds, participants FROM call_stats_daily WHERE conversation_id = $1 ORDER BY day`,
      [conversationId],
    );
    return r.rows.map((x) => ({ ...x, seconds: Number(x.seconds) }));
  }
}
