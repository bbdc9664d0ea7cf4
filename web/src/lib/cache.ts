/**
 * What the client shows when it starts offline: the conversation list and the newest
 * messages of each conversation opened, saved in IndexedDB per user. Only a display cache:
 * the server's answers replace it as soon as they arrive.
 */
import type { Conversation, Message, User } from '../../../sdk/index.js';
import { hasIndexedDb, idbDeletePrefix, idbGet, idbSet } from './idb.js';

const KEEP_MESSAGES = 50;

export class OfflineCache {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly userId: string) {}

  private key(...parts: string[]): string {
    return ['cache', this.userId, ...parts].join(':');
  }

  private later(key: string, value: () => unknown): void {
    if (!hasIndexedDb()) return;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        idbSet(key, value()).catch(() => {});
      }, 400),
    );
  }

  saveConversations(list: readonly Conversation[]): void {
    this.later(this.key('conversations'), () => list);
  }

  saveMessages(conversationId: string, messages: readonly Message[]): void {
    this.later(this.key('messages', conversationId), () => messages.slice(-KEEP_MESSAGES));
  }

  /** The people seen (names and avatars), so a reload while offline still shows names. */
  saveUsers(users: Readonly<Record<string, User>>): void {
    this.later(this.key('users'), () => users);
  }

  async users(): Promise<Record<string, User>> {
    if (!hasIndexedDb()) return {};
    return (await idbGet<Record<string, User>>(this.key('users')).catch(() => undefined)) ?? {};
  }

  async conversations(): Promise<Conversation[]> {
    if (!hasIndexedDb()) return [];
    return (await idbGet<Conversation[]>(this.key('conversations')).catch(() => undefined)) ?? [];
  }

  async messages(conversationId: string): Promise<Message[]> {
    if (!hasIndexedDb()) return [];
    return (await idbGet<Message[]>(this.key('messages', conversationId)).catch(() => undefined)) ?? [];
  }

  /** Forgets everything cached for this user (logout). */
  async clear(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (hasIndexedDb()) await idbDeletePrefix(this.key('')).catch(() => {});
  }
}
