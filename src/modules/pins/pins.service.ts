import { conflict, forbidden, invalid, notFound } from '../../errors.js';
import type { MessageStore } from '../../platform/message-store/index.js';
import type { Message } from '../../../sdk/types.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { MessageViews } from '../messages/message.view.js';
import type { Realtime } from '../realtime/realtime.js';
import type { PinsRepository } from './pins.repository.js';

/** Most pinned messages one conversation may have. */
export const MAX_PINS = 50;

export interface Pin {
  message: Message;
  pinnedBy: string;
  pinnedAt: string;
}

/**
 * Pinned messages: owner/admin in a group, either member in a direct conversation. Each
 * pin and unpin is a system message, a `message.pinned`/`message.unpinned` event, and a
 * conversation event for sync.
 */
export class PinsService {
  constructor(
    private readonly repo: PinsRepository,
    private readonly conversations: ConversationsService,
    private readonly store: MessageStore,
    private readonly views: MessageViews,
    private readonly realtime: Realtime,
  ) {}

  private async requirePinner(userId: string, conversationId: string): Promise<void> {
    const m = await this.conversations.requireMember(userId, conversationId);
    if (m.type === 'group' && m.role !== 'owner' && m.role !== 'admin') throw forbidden('Only the owner or an admin can pin messages in a group.');
  }

  async pin(userId: string, conversationId: string, messageId: string): Promise<Pin[]> {
    await this.requirePinner(userId, conversationId);
    const m = await this.store.findById(conversationId, messageId);
    if (!m) throw notFound('Message not found.');
    if (m.kind !== 'user') throw invalid('System messages cannot be pinned.');
    if (m.deletedAt) throw conflict('A deleted message cannot be pinned.');
    if ((await this.repo.count(conversationId)) >= MAX_PINS) throw conflict(`A conversation has at most ${MAX_PINS} pins.`);
    if (await this.repo.add(conversationId, messageId, userId)) {
      await this.announce(conversationId, userId, messageId, m.seq, true);
      await this.conversations.systemMessage(conversationId, userId, { action: 'pinned', actorId: userId, messageId });
    }
    return this.list(userId, conversationId);
  }

  async unpin(userId: string, conversationId: string, messageId: string): Promise<void> {
    await this.requirePinner(userId, conversationId);
    const m = await this.store.findById(conversationId, messageId);
    if (!m || !(await this.repo.remove(conversationId, messageId))) throw notFound('That message is not pinned.');
    await this.announce(conversationId, userId, messageId, m.seq, false);
    await this.conversations.systemMessage(conversationId, userId, { action: 'unpinned', actorId: userId, messageId });
  }

  /** A deleted message leaves the pins, quietly (its deletion is the event). */
  async onMessageDeleted(conversationId: string, messageId: string, seq: number, actorId: string): Promise<void> {
    if (await this.repo.remove(conversationId, messageId)) await this.announce(conversationId, actorId, messageId, seq, false);
  }

  private async announce(conversationId: string, userId: string, messageId: string, seq: number, pinned: boolean): Promise<void> {
    const type = pinned ? 'message.pinned' : 'message.unpinned';
    const payload = { conversationId, messageId, seq, userId };
    await this.conversations.repo.appendEvent(conversationId, null, type, payload);
    await this.realtime.toConversation(conversationId, { type, ...payload });
  }

  async list(userId: string, conversationId: string): Promise<Pin[]> {
    await this.conversations.requireMember(userId, conversationId);
    const rows = await this.repo.list(conversationId);
    const stored = await Promise.all(rows.map((r) => this.store.findById(conversationId, r.message_id)));
    const live = rows.flatMap((r, i) => (stored[i] && !stored[i].deletedAt ? [{ row: r, m: stored[i] }] : []));
    const views = await this.views.many(live.map((x) => x.m));
    return live.map((x, i) => ({ message: views[i]!, pinnedBy: x.row.pinned_by, pinnedAt: x.row.pinned_at.toISOString() }));
  }
}
