import type { SqlExecutor } from '../../platform/sql/index.js';
import type { NotificationLevel } from './notifications.policy.js';

/** One member of a conversation, with what the policy needs. */
export interface RecipientRow {
  user_id: string;
  last_read_seq: number;
  level: NotificationLevel | null;
  muted_until: Date | null;
}

export interface SettingRow {
  level: NotificationLevel;
  muted_until: Date | null;
}

export interface PrefsRow {
  email_enabled: boolean;
  email_delay_seconds: number | null;
  push_preview: boolean;
}

/** A conversation of a user, as the digest reads it. */
export interface DigestConversationRow {
  conversation_id: string;
  type: 'direct' | 'group';
  title: string | null;
  last_read_seq: number;
  level: NotificationLevel | null;
  muted_until: Date | null;
  emailed_seq: number | null;
  /** Direct conversations: the other member's display name. */
  peer_name: string | null;
}

/** SQL access to notification settings, preferences and pending digests. */
export class NotificationsRepository {
  constructor(private readonly db: SqlExecutor) {}

  /**
   * A conversation and its members with what the policy needs, in one statement (it runs
   * once per message): null when the conversation is gone.
   */
  async audience(conversationId: string): Promise<{ conversation: { id: string; type: 'direct' | 'group'; title: string | null }; recipients: RecipientRow[] } | null> {
    const { rows } = await this.db.query<{ id: string; type: 'direct' | 'group'; title: string | null } & { [K in keyof RecipientRow]: RecipientRow[K] | null }>(
      `SELECT c.id, c.type, c.title, m.user_id, m.last_read_seq::int AS last_read_seq, s.level, s.muted_until
         FROM conversations c
         LEFT JOIN members m ON m.conversation_id = c.id
         LEFT JOIN notification_settings s ON s.conversation_id = m.conversation_id AND s.user_id = m.user_id
        WHERE c.id = $1`,
      [conversationId],
    );
    const first = rows[0];
    if (!first) return null;
    return {
      conversation: { id: first.id, type: first.type, title: first.title },
      recipients: rows
        .filter((r) => r.user_id !== null)
        .map((r) => ({ user_id: r.user_id!, last_read_seq: Number(r.last_read_seq), level: r.level, muted_until: r.muted_until })),
    };
  }

  async setting(conversationId: string, userId: string): Promise<SettingRow | null> {
    const { rows } = await this.db.query<SettingRow>('SELECT level, muted_until FROM notification_settings WHERE conversation_id = $1 AND user_id = $2', [conversationId, userId]);
    return rows[0] ?? null;
  }

  async putSetting(conversationId: string, userId: string, s: SettingRow): Promise<void> {
    await this.db.query(
      `INSERT INTO notification_settings (conversation_id, user_id, level, muted_until) VALUES ($1, $2, $3, $4)
       ON CONFLICT (conversation_id, user_id) DO UPDATE SET level = EXCLUDED.level, muted_until = EXCLUDED.muted_until, updated_at = now()`,
      [conversationId, userId, s.level, s.muted_until],
    );
  }

  async prefs(userIds: readonly string[]): Promise<Map<string, PrefsRow>> {
    if (userIds.length === 0) return new Map();
    const { rows } = await this.db.query<PrefsRow & { user_id: string }>(
      'SELECT user_id, email_enabled, email_delay_seconds, push_preview FROM notification_prefs WHERE user_id = ANY($1::text[])',
      [userIds],
    );
    return new Map(rows.map((r) => [r.user_id, r]));
  }

  async putPrefs(userId: string, p: PrefsRow): Promise<void> {
    await this.db.query(
      `INSERT INTO notification_prefs (user_id, email_enabled, email_delay_seconds, push_preview) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE SET email_enabled = EXCLUDED.email_enabled, email_delay_seconds = EXCLUDED.email_delay_seconds,
         push_preview = EXCLUDED.push_preview, updated_at = now()`,
      [userId, p.email_enabled, p.email_delay_seconds, p.push_preview],
    );
  }

  /** Read positions of every conversation of a user (for the badge). */
  async positions(userId: string): Promise<{ conversationId: string; afterSeq: number }[]> {
    const { rows } = await this.db.query<{ conversation_id: string; last_read_seq: string | number }>('SELECT conversation_id, last_read_seq FROM members WHERE user_id = $1', [userId]);
    return rows.map((r) => ({ conversationId: r.conversation_id, afterSeq: Number(r.last_read_seq) }));
  }

  /**
   * Schedules a digest for each user at their `dueAt` unless one is already waiting (messages
   * batch into it). One being sent right now loses its lease, so it is sent again later
   * with whatever it did not include.
   */
  async scheduleDigests(due: readonly { userId: string; dueAt: Date }[]): Promise<void> {
    if (due.length === 0) return;
    await this.db.query(
      `INSERT INTO email_digests (user_id, due_at)
       SELECT u, d FROM unnest($1::text[], $2::timestamptz[]) AS t(u, d)
       ON CONFLICT (user_id) DO UPDATE SET due_at = EXCLUDED.due_at, lease_id = NULL WHERE email_digests.lease_id IS NOT NULL`,
      [due.map((x) => x.userId), due.map((x) => x.dueAt)],
    );
  }

  /**
   * Takes up to `limit` due digests for this worker: each is leased (its due time moved
   * `leaseSeconds` ahead), so another worker takes it only if this one dies.
   */
  async leaseDueDigests(leaseId: string, limit: number, leaseSeconds: number): Promise<string[]> {
    const { rows } = await this.db.query<{ user_id: string }>(
      `UPDATE email_digests SET lease_id = $1, due_at = now() + make_interval(secs => $3)
        WHERE user_id IN (SELECT user_id FROM email_digests WHERE due_at <= now() ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING user_id`,
      [leaseId, limit, leaseSeconds],
    );
    return rows.map((r) => r.user_id);
  }

  /** Removes a digest this worker sent (or found empty), unless a new message re-armed it meanwhile. */
  async finishDigest(userId: string, leaseId: string): Promise<void> {
    await this.db.query('DELETE FROM email_digests WHERE user_id = $1 AND lease_id = $2', [userId, leaseId]);
  }

  async dueAt(userId: string): Promise<Date | null> {
    const { rows } = await this.db.query<{ due_at: Date }>('SELECT due_at FROM email_digests WHERE user_id = $1', [userId]);
    return rows[0]?.due_at ?? null;
  }

  async digestConversations(userId: string): Promise<DigestConversationRow[]> {
    const { rows } = await this.db.query<DigestConversationRow>(
      `SELECT m.conversation_id, c.type, c.title, m.last_read_seq, s.level, s.muted_until, k.emailed_seq,
              (SELECT u.display_name FROM members o JOIN users u ON u.id = o.user_id
                WHERE c.type = 'direct' AND o.conversation_id = c.id AND o.user_id <> $1 LIMIT 1) AS peer_name
         FROM members m
         JOIN conversations c ON c.id = m.conversation_id
         LEFT JOIN notification_settings s ON s.conversation_id = m.conversation_id AND s.user_id = m.user_id
         LEFT JOIN email_digest_marks k ON k.user_id = m.user_id AND k.conversation_id = m.conversation_id
        WHERE m.user_id = $1
        ORDER BY c.last_activity_at DESC`,
      [userId],
    );
    return rows.map((r) => ({ ...r, last_read_seq: Number(r.last_read_seq), emailed_seq: r.emailed_seq === null ? null : Number(r.emailed_seq) }));
  }

  async markEmailed(userId: string, conversationId: string, seq: number): Promise<void> {
    await this.db.query(
      `INSERT INTO email_digest_marks (user_id, conversation_id, emailed_seq) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, conversation_id) DO UPDATE SET emailed_seq = GREATEST(email_digest_marks.emailed_seq, EXCLUDED.emailed_seq)`,
      [userId, conversationId, seq],
    );
  }

  async userEmail(userId: string): Promise<{ email: string; display_name: string } | null> {
    const { rows } = await this.db.query<{ email: string; display_name: string }>('SELECT email, display_name FROM users WHERE id = $1', [userId]);
    return rows[0] ?? null;
  }
}
