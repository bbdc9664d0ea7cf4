/**
 * The SDK outbox's storage in IndexedDB, one list per signed-in user, so a message typed
 * while offline survives a reload (or a closed tab) and is sent — once, with the same
 * clientMsgId — when the app next connects as that user.
 */
import { MemoryOutboxStorage, type OutboxItem, type OutboxStorage } from '../../../sdk/index.js';
import { hasIndexedDb, idbDelete, idbGet, idbSet } from './idb.js';

const key = (userId: string) => `outbox:${userId}`;

export class IdbOutboxStorage implements OutboxStorage {
  private readonly fallback = new MemoryOutboxStorage();
  private useFallback = !hasIndexedDb();

  constructor(private readonly userId: string) {}

  async load(): Promise<OutboxItem[]> {
    if (this.useFallback) return this.fallback.load();
    try {
      const items = await idbGet<OutboxItem[]>(key(this.userId));
      return Array.isArray(items) ? items : [];
    } catch (err) {
      console.warn('parley: IndexedDB unavailable, the outbox will not survive a reload', err);
      this.useFallback = true;
      return this.fallback.load();
    }
  }

  async save(items: readonly OutboxItem[]): Promise<void> {
    if (this.useFallback) return this.fallback.save(items);
    if (items.length === 0) await idbDelete(key(this.userId));
    else await idbSet(key(this.userId), items.map((i) => ({ ...i })));
  }

  /** Forgets this user's pending messages (explicit logout). */
  static async clear(userId: string): Promise<void> {
    if (hasIndexedDb()) await idbDelete(key(userId)).catch(() => {});
  }
}
