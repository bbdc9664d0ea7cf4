import type { KeyValueStore } from '../../platform/kv/index.js';

/**
 * Whether a connected user is active: the WebSocket gateway touches a user on connect and
 * on every frame but pings; a user not touched for NOTIFY_IDLE_AFTER is idle (the key
 * expires), and is notified like an offline one. Kept in the KV port so every gateway and
 * worker process sees the same answer.
 */
export class ActivityService {
  /** When this process last wrote each user's key: writes are throttled to one per quarter TTL. */
  private readonly lastWrite = new Map<string, number>();

  constructor(
    private readonly kv: KeyValueStore,
    private readonly idleAfterSeconds: number,
  ) {}

  private key(userId: string): string {
    return `activity:${userId}`;
  }

  /** Marks `userId` active now (fire and forget: a failed write only means a push too many). */
  touch(userId: string): void {
    const now = Date.now();
    const last = this.lastWrite.get(userId);
    if (last !== undefined && now - last < (this.idleAfterSeconds * 1000) / 4) return;
    this.lastWrite.set(userId, now);
    if (this.lastWrite.size > 100_000) this.lastWrite.clear();
    this.kv.set(this.key(userId), String(now), Math.max(1, Math.ceil(this.idleAfterSeconds))).catch(() => this.lastWrite.delete(userId));
  }


  /** The subset of `userIds` active within the idle window. */
  async active(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    // Unreadable (Redis down) counts as idle: a push too many rather than a message missed.
    const values = await this.kv.getMany(userIds.map((u) => this.key(u))).catch(() => userIds.map(() => null));
    return new Set(userIds.filter((_, i) => values[i] !== null));
  }
}
