import type { SqlExecutor } from '../../platform/sql/index.js';

export interface SessionRow {
  id: string;
  user_id: string;
  refresh_hash: string;
  expires_at: Date;
  revoked_at: Date | null;
}

/** SQL access to sessions and spent refresh tokens. */
export class SessionsRepository {
  constructor(private readonly db: SqlExecutor) {}

  async insert(s: { id: string; userId: string; refreshHash: string; expiresAt: Date; userAgent?: string; ip?: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO sessions (id, user_id, refresh_hash, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6)`,
      [s.id, s.userId, s.refreshHash, s.expiresAt, s.userAgent?.slice(0, 256) ?? null, s.ip ?? null],
    );
  }

  async findForUpdate(id: string): Promise<SessionRow | null> {
    const { rows } = await this.db.query<SessionRow>(
      'SELECT id, user_id, refresh_hash, expires_at, revoked_at FROM sessions WHERE id = $1 FOR UPDATE',
      [id],
    );
    return rows[0] ?? null;
  }

  async find(id: string): Promise<SessionRow | null> {
    const { rows } = await this.db.query<SessionRow>('SELECT id, user_id, refresh_hash, expires_at, revoked_at FROM sessions WHERE id = $1', [id]);
    return rows[0] ?? null;
  }

  async rotate(id: string, oldHash: string, newHash: string, expiresAt: Date): Promise<void> {
    await this.db.query('INSERT INTO spent_refresh_tokens (token_hash, session_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [oldHash, id]);
    await this.db.query('UPDATE sessions SET refresh_hash = $2, refreshed_at = now(), expires_at = $3 WHERE id = $1', [id, newHash, expiresAt]);
  }

  async isSpent(id: string, hash: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM spent_refresh_tokens WHERE token_hash = $1 AND session_id = $2', [hash, id]);
    return rows.length > 0;
  }

  /** Revokes every live session of a user; returns their ids. */
  async revokeAllOf(userId: string, reason: string): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>('UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id', [userId, reason]);
    return rows.map((r) => r.id);
  }

  async revoke(id: string, reason: string): Promise<void> {
    await this.db.query('UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL', [id, reason]);
  }
}
