import { invalid, notFound } from '../../errors.js';
import type { MessageStore, StoredMessage } from '../../platform/message-store/index.js';
import type { Message, ThreadSummary as FollowedThread } from '../../../sdk/types.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { MessageViews } from '../messages/message.view.js';
import type { Realtime } from '../realtime/realtime.js';
import type { ThreadSummaryRow, ThreadsRepository } from './threads.repository.js';

/** A thread's summary as every member sees it (`thread.updated`); a followed thread adds the reader's unread count. */
export type ThreadSummary = Omit<FollowedThread, 'unreadCount'>;

function toSummary(r: ThreadSummaryRow): ThreadSummary {
  const out: ThreadSummary = { conversationId: r.conversation_id, rootId: r.root_id, replyCount: Number(r.reply_count), participants: [...r.participants] };
  if (r.last_reply_at) out.lastReplyAt = r.last_reply_at.toISOString();
  return out;
}

/**
 * Threads: a reply names a root (`threadRootId`); the root carries the reply count, the
 * last reply time and the participants. Replies are ordinary messages of the conversation
 * (same seq sequence, same events, same sync), recorded here beside the message store. The
 * root's author and everyone who replies follow the thread; replies in a thread you do not
 * follow do not count as unread in the conversation.
 */
export class ThreadsService {
  constructor(
    private readonly repo: ThreadsRepository,
    private readonly conversations: ConversationsService,
    private readonly store: MessageStore,
    private readonly views: MessageViews,
    private readonly realtime: Realtime,
  ) {}

  /** The root a new reply goes under: a live user message of the conversation (a reply's root for a reply). */
  async resolveRoot(conversationId: string, threadRootId: string): Promise<StoredMessage> {
    const target = await this.store.findById(conversationId, threadRootId);
    if (!target || target.kind !== 'user' || target.deletedAt) throw invalid('threadRootId must be a message of the same conversation.');
    const rootId = (await this.repo.rootsOf([target.id])).get(target.id);
    if (!rootId) return target;
    const root = await this.store.findById(conversationId, rootId);
    if (!root) throw invalid('threadRootId must be a message of the same conversation.');
    return root;
  }

  /** Records a stored reply (before it is announced, so its view names the root), follows, and announces the new summary. */
  async recordReply(reply: StoredMessage, root: StoredMessage): Promise<void> {
    const summary = await this.repo.addReply({ conversationId: reply.conversationId, rootId: root.id, messageId: reply.id, seq: reply.seq, senderId: reply.senderId, createdAt: reply.createdAt });
    await this.repo.setFollow(reply.conversationId, root.id, root.senderId, true, true);
    await this.repo.setFollow(reply.conversationId, root.id, reply.senderId, true);
    await this.repo.markRead(reply.conversationId, root.id, reply.senderId, reply.seq);
    await this.announce(summary);
  }

  /** A deleted reply leaves the count. */
  async onMessageDeleted(conversationId: string, messageId: string): Promise<void> {
    const rootId = await this.repo.markDeleted(messageId);
    if (rootId) await this.announce(await this.repo.refresh(conversationId, rootId));
  }

  private async announce(row: ThreadSummaryRow): Promise<void> {
    const summary = toSummary(row);
    await this.conversations.repo.appendEvent(summary.conversationId, null, 'thread.updated', summary);
    await this.realtime.toConversation(summary.conversationId, { type: 'thread.updated', ...summary });
  }

  /** Adds thread fields to message views: `threadRootId` on replies, the summary on roots. */
  async decorate(stored: readonly StoredMessage[], views: Message[]): Promise<void> {
    if (stored.length === 0) return;
    const ids = stored.map((m) => m.id);
    const [roots, summaries] = await Promise.all([this.repo.rootsOf(ids), this.repo.summaries(ids)]);
    views.forEach((v, i) => {
      const id = stored[i]!.id;
      const root = roots.get(id);
      if (root) v.threadRootId = root;
      const s = summaries.get(id);
      if (s) {
        v.threadReplyCount = Number(s.reply_count);
        if (s.last_reply_at) v.threadLastReplyAt = s.last_reply_at.toISOString();
        v.threadParticipants = [...s.participants];
      }
    });
  }

  private async requireRoot(userId: string, conversationId: string, rootId: string): Promise<StoredMessage> {
    await this.conversations.requireMember(userId, conversationId);
    const root = await this.store.findById(conversationId, rootId);
    if (!root || root.kind !== 'user') throw notFound('Thread not found.');
    return root;
  }

  /** A page of a thread: the root and its replies by seq (newest page by default), ascending. */
  async messages(userId: string, conversationId: string, rootId: string, opts: { before?: number; after?: number; limit: number }): Promise<{ root: Message; messages: Message[]; hasMore: boolean; following: boolean }> {
    const root = await this.requireRoot(userId, conversationId, rootId);
    const page = await this.repo.page(rootId, {
      limit: opts.limit,
      ...(opts.before !== undefined ? { beforeSeq: opts.before } : {}),
      ...(opts.after !== undefined ? { afterSeq: opts.after } : {}),
    });
    const found = await Promise.all(page.ids.map((id) => this.store.findById(conversationId, id)));
    const replies = found.filter((m): m is StoredMessage => m !== null);
    const [rootView, ...views] = await this.views.many([root, ...replies]);
    return { root: rootView!, messages: views, hasMore: page.hasMore, following: await this.repo.following(rootId, userId) };
  }

  async follow(userId: string, conversationId: string, rootId: string, following: boolean): Promise<void> {
    await this.requireRoot(userId, conversationId, rootId);
    await this.repo.setFollow(conversationId, rootId, userId, following);
  }

  async markRead(userId: string, conversationId: string, rootId: string, seq: number): Promise<void> {
    await this.requireRoot(userId, conversationId, rootId);
    await this.repo.markRead(conversationId, rootId, userId, seq);
  }

  /** Threads of the conversation the caller follows, newest reply first, with unread reply counts. */
  async followed(userId: string, conversationId: string): Promise<{ threads: FollowedThread[] }> {
    await this.conversations.requireMember(userId, conversationId);
    const rows = await this.repo.followed(userId, conversationId);
    return { threads: rows.map((r) => ({ ...toSummary(r), unreadCount: r.unread })) };
  }

  /** Replies in unfollowed threads after each read position: the conversation's unread count leaves them out. */
  unfollowedReplies(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    return this.repo.unfollowedReplies(userId, positions);
  }
}
