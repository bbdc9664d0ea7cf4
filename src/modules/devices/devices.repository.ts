import type { SqlExecutor } from '../../platform/sql/index.js';

export interface DeviceRow {
  id: string;
  user_id: string;
  platform: 'fcm' | 'apns' | 'webpush';
  token: string | null;
  subscription: unknown;
  created_at: Date;
}

const COLS = 'id, user_id, platform, token, subscription, created_at';

/** SQL access to push devices. */
export class DevicesRepository {
  constructor(private readonly db: SqlExecutor) {}

  /**
   * Registers a device; the same token or push endpoint registered again (by anyone) is
   * the same device, which now belongs to the caller: a phone changes hands, a browser
   * profile logs in as someone else.
   */
  async upsert(d: { id: string; userId: string; platform: string; token: string | null; subscription: unknown; endpointKey: string }): Promise<DeviceRow> {
    const { rows } = await this.db.query<DeviceRow>(
      `INSERT INTO devices (id, user_id, platform, token, subscription, endpoint_key)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (platform, endpoint_key) DO UPDATE
         SET user_id = EXCLUDED.user_id, token = EXCLUDED.token, subscription = EXCLUDED.subscription, updated_at = now()
       RETURNING ${COLS}`,
      [d.id, d.userId, d.platform, d.token, d.subscription === null ? null : JSON.stringify(d.subscription), d.endpointKey],
    );
    return rows[0]!;
  }

  async deleteOwned(userId: string, id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM devices WHERE id = $1 AND user_id = $2', [id, userId]);
    return r.rowCount > 0;
  }

  async listForUsers(userIds: readonly string[]): Promise<DeviceRow[]> {
    if (userIds.length === 0) return [];
    const { rows } = await this.db.query<DeviceRow>(`SELECT ${COLS} FROM devices WHERE user_id = ANY($1::text[])`, [userIds]);
    return rows;
  }

  /** Removes a token the provider reported dead. */
  async deleteById(id: string): Promise<void> {
    await this.db.query('DELETE FROM devices WHERE id = $1', [id]);
  }
}
