import type { PresenceState, PresenceStore } from './presence.port.js';

/**
 * In-process presence for the embedded profile. Same rules as the Redis adapter: a user is
 * tracked (in `live`) from their first touch until remove() or reapExpired() reports them
 * offline, so every online period ends in exactly one offline report.
 */
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

  /** Drops the expired connections of a user whose set is being changed anyway. */
  private prune(conns: Map<string, number>): void {
    const t = this.now();
    for (const [id, exp] of conns) if (exp <= t) conns.delete(id);
  }

  async touch(userId: string, connectionId: string, ttlSeconds: number): Promise<{ becameOnline: boolean }> {
    const was = this.liveCount(userId) > 0;
    let conns = this.live.get(userId);
    if (!conns) this.live.set(userId, (conns = new Map()));
    conns.set(connectionId, this.now() + ttlSeconds * 1000);
    this.prune(conns);
    return { becameOnline: !was };
  }

  async remove(userId: string, connectionId: string): Promise<{ becameOffline: boolean; lastSeenAt: string }> {
    const conns = this.live.get(userId);
    const lastSeenAt = new Date(this.now()).toISOString();
    this.lastSeen.set(userId, lastSeenAt);
    if (!conns) return { becameOffline: false, lastSeenAt }; // never online, or already reported offline
    conns.delete(connectionId);
    this.prune(conns);
    if (conns.size > 0) return { becameOffline: false, lastSeenAt };
    // Last live connection gone, or all had expired and the user was not reaped yet: either
    // way nobody reported them offline, and once out of `live` reapExpired never will.
    this.live.delete(userId);
    return { becameOffline: true, lastSeenAt };
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

  async online(userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.liveCount(id) > 0));
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
