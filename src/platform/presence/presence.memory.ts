import type { PresenceState, PresenceStore } from './presence.port.js';

/** In-process presence for the embedded profile. */
export class MemoryPresenceStore implements PresenceStore {
  /** userId -> connectionId -> expiry (ms) */
  private readonly live = new Map<string, Map<string, number>>();
  private readonly lastSeen = new Map<string, string>();

  constructor(private readonly now: () => number = Date.now) {}

  private liveCount(userId: string): number {
    const conns = this.live.get(userId);
    if (!conns) return 0;
    const t = this.now();
    let n = 0;
    for (const exp of conns.values()) if (exp > t) n++;
    return n;
  }

  async touch(userId: string, connectionId: string, ttlSeconds: number): Promise<{ becameOnline: boolean }> {
    const was = this.liveCount(userId) > 0;
    let conns = this.live.get(userId);
    if (!conns) this.live.set(userId, (conns = new Map()));
    conns.set(connectionId, this.now() + ttlSeconds * 1000);
    return { becameOnline: !was };
  }

  async remove(userId: string, connectionId: string): Promise<{ becameOffline: boolean; lastSeenAt: string }> {
    const conns = this.live.get(userId);
    const was = this.liveCount(userId) > 0;
    conns?.delete(connectionId);
    const lastSeenAt = new Date(this.now()).toISOString();
    this.lastSeen.set(userId, lastSeenAt);
    const nowLive = this.liveCount(userId) > 0;
    if (conns && conns.size === 0) this.live.delete(userId);
    return { becameOffline: was && !nowLive, lastSeenAt };
  }

  async get(userIds: readonly string[]): Promise<Record<string, PresenceState>> {
    const out: Record<string, PresenceState> = {};
    for (const id of userIds) {
      if (this.liveCount(id) > 0) out[id] = { status: 'online' };
      else {
        const seen = this.lastSeen.get(id);
        out[id] = seen ? { status: 'offline', lastSeenAt: seen } : { status: 'offline' };
      }
    }
    return out;
  }

  async reapExpired(): Promise<{ userId: string; lastSeenAt: string }[]> {
    const out: { userId: string; lastSeenAt: string }[] = [];
    const t = this.now();
    for (const [userId, conns] of this.live) {
      if (this.liveCount(userId) > 0) continue;
      const lastExpiry = Math.max(...conns.values());
      const lastSeenAt = new Date(Math.min(lastExpiry, t)).toISOString();
      this.live.delete(userId);
      this.lastSeen.set(userId, lastSeenAt);
      out.push({ userId, lastSeenAt });
    }
    return out;
  }

  async close(): Promise<void> {
    this.live.clear();
  }
}
