import type { SqlExecutor } from '../../platform/sql/index.js';

export interface UserRow {
  id: string;
  email: string;
  username: string;
  display_name: string;
  password_hash: string;
  avatar_media_id: string | null;
  status_text: string | null;
  created_at: Date;
  is_admin: boolean;
  deactivated_at: Date | null;
}

const COLS = 'id, email, username, display_name, password_hash, avatar_media_id, status_text, created_at, is_admin, deactivated_at';

/** Escapes LIKE wildcards so a search for "a_b" means the literal text. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** SQL access to users. */
export class UsersRepository {
  constructor(private readonly db: SqlExecutor) {}

  async insert(u: { id: string; email: string; username: string; displayName: string; passwordHash: string }): Promise<UserRow> {
    const { rows } = await this.db.query<UserRow>(
      `INSERT INTO users (id, email, email_lower, username, display_name, password_hash)
       VALUES ($1, $2, lower($2), $3, $4, $5) RETURNING ${COLS}`,
      [u.id, u.email, u.username, u.displayName, u.passwordHash],
    );
    return rows[0]!;
  }

  async findById(id: string): Promise<UserRow | null> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLS} FROM users WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLS} FROM users WHERE id = ANY($1::text[])`, [ids]);
    return rows;
  }

  /** Finds by username or email, case-insensitively. */
  async findByLogin(login: string): Promise<UserRow | null> {
    const l = login.toLowerCase();
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLS} FROM users WHERE username = $1 OR email_lower = $1 LIMIT 1`, [l]);
    return rows[0] ?? null;
  }

  async findByUsernames(usernames: readonly string[]): Promise<UserRow[]> {
    if (usernames.length === 0) return [];
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLS} FROM users WHERE username = ANY($1::text[])`, [usernames]);
    return rows;
  }

  async update(id: string, patch: { displayName?: string; avatarMediaId?: string | null; statusText?: string | null }): Promise<UserRow | null> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    const add = (col: string, v: unknown) => {
      params.push(v);
      sets.push(`${col} = $${params.length}`);
    };
    if (patch.displayName !== undefined) add('display_name', patch.displayName);
    if (patch.avatarMediaId !== undefined) add('avatar_media_id', patch.avatarMediaId);
    if (patch.statusText !== undefined) add('status_text', patch.statusText);
    if (sets.length === 0) return this.findById(id);
    const { rows } = await this.db.query<UserRow>(
      `UPDATE users SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING ${COLS}`,
      params,
    );
    return rows[0] ?? null;
  }

  /**
   * People search: any part of the username or display name ("builder" finds "Bob
   * Builder"); exact usernames first, then names starting with the query. Leaves out
   * deactivated accounts and the people `viewerId` blocked.
   */
  async search(query: string, limit: number, viewerId: string): Promise<UserRow[]> {
    const q = query.toLowerCase();
    const e = likeEscape(q);
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${COLS} FROM users u
       WHERE (username LIKE $1 OR lower(display_name) LIKE $1)
         AND deactivated_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = $5 AND b.blocked_id = u.id)
       ORDER BY (username = $2) DESC, (username LIKE $3 OR lower(display_name) LIKE $3) DESC, username
       LIMIT $4`,
      [`%${e}%`, q, `${e}%`, limit, viewerId],
    );
    return rows;
  }

  /** Grants or revokes the deployment administrator flag; false when no such user. */
  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    const r = await this.db.query('UPDATE users SET is_admin = $2, updated_at = now() WHERE username = $1', [username.toLowerCase(), admin]);
    return r.rowCount > 0;
  }

  /** Marks an account deactivated (idempotent); returns the row, or null when no such user. */
  async deactivate(id: string): Promise<UserRow | null> {
    const { rows } = await this.db.query<UserRow>(
      `UPDATE users SET deactivated_at = coalesce(deactivated_at, now()), updated_at = now() WHERE id = $1 RETURNING ${COLS}`,
      [id],
    );
    return rows[0] ?? null;
  }
}
