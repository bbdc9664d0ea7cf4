import { conflict, forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Logger } from '../../logger.js';
import type { MessageStore, StoredMessage } from '../../platform/message-store/index.js';
import type { JobKind, JobQueue } from '../../platform/jobs/jobs.port.js';
import type { PresenceStore } from '../../platform/presence/index.js';
import type { Media, Message } from '../../../sdk/types.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { UsersRepository } from '../users/users.repository.js';
import type { Realtime } from '../realtime/realtime.js';
import type { Metrics } from '../../gateway/metrics.js';
import type { MessageViews } from './message.view.js';
import { parseMentions } from './mentions.js';

export const MAX_TEXT_LENGTH = 4000;
export const MAX_ATTACHMENTS = 10;

export interface SendInput {
  conversationId: string;
  clientMsgId: string;
  text?: string | null;
  attachments?: string[];
  replyToId?: string | null;
}

/** Media hooks provided by the media module. */
export interface AttachmentPolicy {
  /** Checks the sender may attach these (owned, completed); returns them in order. */
  attachable(userId: string, mediaIds: readonly string[]): Promise<Media[]>;
  /** Records that the media was posted here, so members may download it. */
  recordPosted(conversationId: string, mediaIds: readonly string[]): Promise<void>;
}

/** Jobs queued for every stored message (design flow 1). */
const SEND_JOBS: readonly JobKind[] = ['notify.push', 'notify.email', 'notify.background', 'mentions.detect'];

/**
 * Messages: send (idempotent by clientMsgId), history, edit, delete, reactions. REST and
 * WebSocket both call these methods; membership is checked first on every one.
 */
export class MessagesService {
  attachments: AttachmentPolicy = {
    attachable: async () => {
      throw invalid('Attachments are not available.');
    },
    recordPosted: async () => {},
  };
  jobs: JobQueue | null = null;
  /** Steps run after a message is stored and delivered (link previews); a failure is logged, never the send's. */
  afterSend: ((m: StoredMessage) => Promise<void>)[] = [];

  constructor(
    private readonly store: MessageStore,
    private readonly conversations: ConversationsService,
    private readonly users: UsersRepository,
    private readonly presence: PresenceStore,
    private readonly views: MessageViews,
    private readonly realtime: Realtime,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  async send(userId: string, input: SendInput): Promise<{ message: Message; created: boolean }> {
    const text = input.text ?? null;
    const attachments = input.attachments ?? [];
    if (!/^[\x21-\x7e]{1,64}$/.test(input.clientMsgId)) throw invalid('clientMsgId must be 1–64 printable ASCII characters.');
    if (text !== null && [...text].length > MAX_TEXT_LENGTH) throw invalid(`Text is at most ${MAX_TEXT_LENGTH} characters.`);
    if (text !== null && text.includes('\u0000')) throw invalid('Text must not contain NUL characters.');
    if ((text === null || text.trim() === '') && attachments.length === 0) throw invalid('A message needs text or attachments.');
    if (attachments.length > MAX_ATTACHMENTS) throw invalid(`At most ${MAX_ATTACHMENTS} attachments.`);

    const membership = await this.conversations.requireMember(userId, input.conversationId);
    // A retry returns what was stored, before any other check can fail it differently.
    const existing = await this.store.findByClientMsgId(userId, input.clientMsgId);
    if (existing) return { message: await this.sameConversation(existing, input.conversationId), created: false };

    if (input.replyToId) {
      const target = await this.store.findById(input.conversationId, input.replyToId);
      if (!target) throw invalid('replyToId must be a message of the same conversation.');
    }
    if (attachments.length) await this.attachments.attachable(userId, attachments);
    const mentions = text ? await this.resolveMentions(input.conversationId, userId, text) : [];

    const { message: stored, created } = await this.store.insert({
      id: newId(),
      conversationId: input.conversationId,
      senderId: userId,
      clientMsgId: input.clientMsgId,
      kind: 'user',
      text,
      attachments: [...new Set(attachments)],
      replyToId: input.replyToId ?? null,
      mentions,
      system: null,
    });
    if (!created) return { message: await this.sameConversation(stored, input.conversationId), created: false };

    const message = await this.views.one(stored);
    this.metrics.messagesSent.inc();
    await this.conversations.repo.insertMentions(stored.conversationId, stored.id, stored.seq, mentions);
    await this.conversations.repo.touchActivity(stored.conversationId, stored.createdAt);
    if (attachments.length) await this.attachments.recordPosted(stored.conversationId, attachments);
    await this.realtime.toConversation(stored.conversationId, { type: 'message.new', message });
    // Sending means you have read everything up to your own message.
    if (membership.last_read_seq < stored.seq) await this.conversations.markRead(userId, stored.conversationId, stored.seq);
    await this.queueJobs(stored);
    for (const step of this.afterSend) await step(stored).catch((err: unknown) => this.logger.error({ err, messageId: stored.id }, 'an after-send step failed'));
    return { message, created: true };
  }

  private async sameConversation(m: StoredMessage, conversationId: string): Promise<Message> {
    if (m.conversationId !== conversationId) throw conflict('This clientMsgId was already used for a message in another conversation.');
    return this.views.one(m);
  }

  private async queueJobs(m: StoredMessage): Promise<void> {
    if (!this.jobs) return;
    const payload = { messageId: m.id, conversationId: m.conversationId, seq: m.seq, senderId: m.senderId };
    try {
      // Job ids derive from the message id, so consumers can drop a redelivered duplicate.
      await this.jobs.enqueueMany(SEND_JOBS.map((kind) => ({ kind, payload, id: `${kind}:${m.id}` })));
    } catch (err) {
      // The message is stored and delivered; notifications for it are what is at risk.
      this.logger.error({ err, messageId: m.id }, 'could not queue jobs for a stored message');
    }
  }

  /** Mentioned members: named ones, everyone for @all, online ones for @here (never the sender). */
  private async resolveMentions(conversationId: string, senderId: string, text: string): Promise<string[]> {
    const parsed = parseMentions(text);
    if (!parsed.all && !parsed.here && parsed.usernames.length === 0) return [];
    const memberIds = (await this.conversations.repo.memberIds(conversationId)).filter((u) => u !== senderId);
    const out = new Set<string>();
    if (parsed.all) memberIds.forEach((u) => out.add(u));
    if (parsed.here && !parsed.all) {
      const states = await this.presence.get(memberIds);
      for (const u of memberIds) if (states[u]?.status === 'online') out.add(u);
    }
    if (parsed.usernames.length) {
      const members = new Set(memberIds);
      for (const u of await this.users.findByUsernames(parsed.usernames)) if (members.has(u.id)) out.add(u.id);
    }
    return [...out];
  }

  async list(userId: string, conversationId: string, opts: { before?: number; after?: number; limit: number }): Promise<{ messages: Message[]; hasMore: boolean }> {
    await this.conversations.requireMember(userId, conversationId);
    const page = await this.store.list(conversationId, {
      limit: opts.limit,
      ...(opts.before !== undefined ? { beforeSeq: opts.before } : {}),
      ...(opts.after !== undefined ? { afterSeq: opts.after } : {}),
    });
    return { messages: await this.views.many(page.messages), hasMore: page.hasMore };
  }

  private async requireMessage(conversationId: string, messageId: string): Promise<StoredMessage> {
    const m = await this.store.findById(conversationId, messageId);
    if (!m) throw notFound('Message not found.');
    return m;
  }

  async edit(userId: string, conversationId: string, messageId: string, text: string): Promise<Message> {
    await this.conversations.requireMember(userId, conversationId);
    const m = await this.requireMessage(conversationId, messageId);
    if (m.senderId !== userId || m.kind !== 'user') throw forbidden('Only the sender can edit a message.');
    if (m.deletedAt) throw conflict('A deleted message cannot be edited.');
    if ([...text].length > MAX_TEXT_LENGTH) throw invalid(`Text is at most ${MAX_TEXT_LENGTH} characters.`);
    if (text.includes('\u0000')) throw invalid('Text must not contain NUL characters.');
    if (text.trim() === '' && m.attachments.length === 0) throw invalid('A message needs text or attachments; delete it instead.');
    const mentions = await this.resolveMentions(conversationId, userId, text);
    const r = await this.store.apply(conversationId, messageId, { kind: 'edit', text, mentions });
    if (!r) throw notFound('Message not found.');
    const message = await this.views.one(r.message);
    if (r.changed) {
      await this.conversations.repo.replaceMentions(conversationId, messageId, r.message.seq, mentions);
      await this.realtime.toConversation(conversationId, { type: 'message.updated', message });
    }
    return message;
  }

  async remove(userId: string, conversationId: string, messageId: string): Promise<void> {
    const membership = await this.conversations.requireMember(userId, conversationId);
    const m = await this.requireMessage(conversationId, messageId);
    const moderator = membership.type === 'group' && (membership.role === 'owner' || membership.role === 'admin');
    if (m.senderId !== userId && !moderator) throw forbidden('Only the sender or a group owner/admin can delete a message.');
    const r = await this.store.apply(conversationId, messageId, { kind: 'delete' });
    if (!r) throw notFound('Message not found.');
    if (r.changed) {
      await this.conversations.repo.replaceMentions(conversationId, messageId, r.message.seq, []);
      const message = await this.views.one(r.message);
      await this.realtime.toConversation(conversationId, { type: 'message.deleted', conversationId, messageId, seq: r.message.seq, message });
    }
  }

  async react(userId: string, conversationId: string, messageId: string, emoji: string, add: boolean): Promise<Message> {
    await this.conversations.requireMember(userId, conversationId);
    if (!isReaction(emoji)) throw invalid('A reaction is 1–32 characters with no spaces or control characters.');
    const current = await this.requireMessage(conversationId, messageId);
    if (current.deletedAt) throw conflict('A deleted message cannot be reacted to.');
    const r = await this.store.apply(conversationId, messageId, { kind: 'reaction', emoji, userId, add });
    if (!r) throw notFound('Message not found.');
    const message = await this.views.one(r.message);
    if (r.changed) await this.realtime.toConversation(conversationId, { type: 'reaction.updated', message });
    return message;
  }

  /** Typing indicators are published, never stored. */
  async typing(userId: string, conversationId: string): Promise<void> {
    await this.conversations.requireMember(userId, conversationId);
    await this.realtime.toConversation(conversationId, { type: 'typing', conversationId, userId });
  }
}

/** An emoji or short code: no whitespace or control characters, at most 32 code points. */
export function isReaction(s: string): boolean {
  const n = [...s].length;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return n >= 1 && n <= 32 && !/[\s\u0000-\u001f\u007f]/u.test(s);
}
