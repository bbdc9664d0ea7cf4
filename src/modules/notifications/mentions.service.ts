import type { KeyValueStore } from '../../platform/kv/index.js';
import type { MessageStore } from '../../platform/message-store/index.js';
import type { Message } from '../../../sdk/types.js';
import type { MessageViews } from '../messages/message.view.js';
import type { MentionsRepository } from './mentions.repository.js';
import type { MessageJobPayload } from './notifications.service.js';
import { decodeKeysetCursor, keysetPage } from '../keyset-cursor.js';

export interface MentionItem {
  conversationId: string;
  messageId: string;
  seq: number;
  senderId: string;
  createdAt: string;
  read: boolean;
  message: Message | null;
}

export interface MentionsPage {
  mentions: MentionItem[];
  unreadCount: number;
  nextCursor: string | null;
}

const PAGE = 20;

/**
 * Mentions across conversations: the mention job records them; the first page and the
 * unread count of each user are cached in the KV port (Redis in the full stack), dropped
 * whenever a read, edit, delete or new mention changes them.
 */
export class MentionsService {
  constructor(
    private readonly repo: MentionsRepository,
    private readonly store: MessageStore,
    private readonly views: MessageViews,
    private readonly kv: KeyValueStore,
    private readonly cacheTtlSeconds: number,
  ) {}

  private pageKey(userId: string): string {
    return `mentions:recent:${userId}`;
  }
  private countKey(userId: string): string {
    return `mentions:unread:${userId}`;
  }

  /** `mentions.detect`: records the message's mentions and drops the mentioned users' caches. Returns how many. */
  async record(p: MessageJobPayload): Promise<number> {
    const m = await this.store.findById(p.conversationId, p.messageId);
    if (!m || m.deletedAt || m.mentions.length === 0) return 0;
    await this.repo.record(m.mentions.map((userId) => ({ userId, messageId: m.id, conversationId: m.conversationId, seq: m.seq, senderId: m.senderId, createdAt: m.createdAt })));
    await this.invalidate(m.mentions);
    return m.mentions.length;
  }

  /** Drops the cached mentions of these users (on read, edit, delete, leave). */
  async invalidate(userIds: readonly string[]): Promise<void> {
    await Promise.all(userIds.flatMap((u) => [this.kv.del(this.pageKey(u)), this.kv.del(this.countKey(u))]));
  }

  async unreadCount(userId: string): Promise<number> {
    const cached = await this.kv.get(this.countKey(userId)).catch(() => null);
    if (cached !== null) return Number(cached);
    const n = await this.repo.unreadCount(userId);
    await this.kv.set(this.countKey(userId), String(n), this.cacheTtlSeconds).catch(() => {});
    return n;
  }

  /** GET /v1/me/mentions: newest first, only conversations the user is still in. */
  async list(userId: string, cursor?: string): Promise<MentionsPage> {
    const first = cursor === undefined;
    if (first) {
      const cached = await this.kv.get(this.pageKey(userId)).catch(() => null);
      if (cached !== null) return JSON.parse(cached) as MentionsPage;
    }
    const rows = await this.repo.list(userId, PAGE + 1, cursor ? decodeKeysetCursor(cursor) : undefined);
    const { page, nextCursor } = keysetPage(rows, PAGE, (r) => [r.created_at, r.message_id]);
    const stored = await Promise.all(page.map((r) => this.store.findById(r.conversation_id, r.message_id)));
    const views = await this.views.many(stored.filter((m) => m !== null));
    const byId = new Map(views.map((v) => [v.id, v]));
    const out: MentionsPage = {
      mentions: page.map((r) => ({
        conversationId: r.conversation_id,
        messageId: r.message_id,
        seq: r.seq,
        senderId: r.sender_id,
        createdAt: r.created_at.toISOString(),
        read: r.seq <= r.last_read_seq,
        message: byId.get(r.message_id) ?? null,
      })),
      unreadCount: await this.unreadCount(userId),
      nextCursor,
    };
    if (first) await this.kv.set(this.pageKey(userId), JSON.stringify(out), this.cacheTtlSeconds).catch(() => {});
    return out;
  }
}
