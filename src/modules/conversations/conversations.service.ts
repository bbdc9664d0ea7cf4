import { forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Config } from '../../config.js';
import type { SqlDatabase } from '../../platform/sql/index.js';
import type { MessageStore } from '../../platform/message-store/index.js';
import type { Conversation, Member, Role } from '../../../sdk/types.js';
import type { UsersRepository } from '../users/users.repository.js';
import type { Realtime } from '../realtime/realtime.js';
import type { MessageViews } from '../messages/message.view.js';
import { ConversationsRepository, type MembershipRow } from './conversations.repository.js';
import { decodeKeysetCursor, keysetPage } from '../keyset-cursor.js';

const MANAGERS: readonly Role[] = ['owner', 'admin'];

function directKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/** What conversations need of other modules, given at construction. */
export interface ConversationHooks {
  /** From the media module: checks that a media id may be used as an avatar. */
  validateAvatar(userId: string, mediaId: string): Promise<void>;
  /** After a member's read position moved (notifications drop cached mention counts). */
  onRead(userId: string, conversationId: string): void;
  /** After a member left or was removed. */
  onMemberRemoved(userId: string, conversationId: string): void;
  /** From the threads module: unread messages that do not count (replies in threads the user does not follow). */
  unreadExcluded(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>>;
  /** From the blocks module: refuses opening a direct conversation with someone who blocked you. */
  assertNotBlocked(peerId: string, userId: string): Promise<void>;
  /** From the calls module: someone who leaves or is removed also leaves the conversation's call. */
  leaveCalls(conversationId: string, userId: string): Promise<void>;
}

/**
 * Conversations and membership: who may see and manage what. Every read and write
 * checks membership first; a non-member gets `not_found`, so existence never leaks.
 */
export class ConversationsService {
  readonly repo: ConversationsRepository;

  constructor(
    private readonly db: SqlDatabase,
    private readonly users: UsersRepository,
    private readonly messages: MessageStore,
    private readonly views: MessageViews,
    private readonly realtime: Realtime,
    private readonly config: Config,
    private readonly hooks: ConversationHooks,
  ) {
    this.repo = new ConversationsRepository(db);
  }

  /** The caller's membership, or `not_found`. */
  async requireMember(userId: string, conversationId: string): Promise<MembershipRow> {
    const row = await this.repo.findForMember(conversationId, userId);
    if (!row) throw notFound('Conversation not found.');
    return row;
  }

  async isMember(userId: string, conversationId: string): Promise<boolean> {
    return this.repo.isMember(conversationId, userId);
  }

  async createDirect(userId: string, otherId: string): Promise<{ conversation: Conversation; created: boolean }> {
    if (otherId === userId) throw invalid('A direct conversation needs another user.');
    if (!(await this.users.findById(otherId))) throw notFound('User not found.');
    await this.hooks.assertNotBlocked(otherId, userId);
    const key = directKey(userId, otherId);
    const existing = await this.repo.findByDirectKey(key);
    if (existing) return { conversation: await this.get(userId, existing.id), created: false };
    const id = newId();
    try {
      await this.db.transaction(async (tx) => {
        const repo = new ConversationsRepository(tx);
        await repo.insert({ id, type: 'direct', title: null, topic: null, directKey: key, createdBy: userId });
        await repo.addMembers(id, [
          { userId, role: 'member' },
          { userId: otherId, role: 'member' },
        ]);
      });
    } catch (err) {
      // Both users opened it at once: theirs won; it is the same conversation.
      const winner = await this.repo.findByDirectKey(key);
      if (winner) return { conversation: await this.get(userId, winner.id), created: false };
      throw err;
    }
    await this.announceJoined(id, [userId, otherId]);
    return { conversation: await this.get(userId, id), created: true };
  }

  async createGroup(userId: string, input: { title: string; topic?: string; memberIds: readonly string[] }): Promise<Conversation> {
    const others = [...new Set(input.memberIds)].filter((u) => u !== userId);
    if (others.length + 1 > this.config.GROUP_MEMBER_LIMIT) throw invalid(`A group has at most ${this.config.GROUP_MEMBER_LIMIT} members.`);
    await this.assertUsersExist(others);
    const id = newId();
    await this.db.transaction(async (tx) => {
      const repo = new ConversationsRepository(tx);
      await repo.insert({ id, type: 'group', title: input.title, topic: input.topic ?? null, directKey: null, createdBy: userId });
      await repo.addMembers(id, [{ userId, role: 'owner' }, ...others.map((u) => ({ userId: u, role: 'member' as const }))]);
    });
    await this.announceJoined(id, [userId, ...others]);
    await this.systemMessage(id, userId, { action: 'created', actorId: userId, userIds: others });
    return this.get(userId, id);
  }

  private async assertUsersExist(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const found = new Set((await this.users.findByIds(ids)).map((u) => u.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw invalid(`Unknown user id(s): ${missing.slice(0, 5).join(', ')}`);
  }

  async get(userId: string, conversationId: string): Promise<Conversation> {
    const row = await this.requireMember(userId, conversationId);
    return (await this.views_(userId, [row]))[0]!;
  }

  async list(userId: string, opts: { cursor?: string; limit: number }): Promise<{ conversations: Conversation[]; nextCursor: string | null }> {
    const after = opts.cursor ? decodeKeysetCursor(opts.cursor) : undefined;
    const rows = await this.repo.listForUser(userId, opts.limit + 1, after);
    const { page, nextCursor } = keysetPage(rows, opts.limit, (r) => [r.last_activity_at, r.id]);
    return {
      conversations: await this.views_(userId, page),
      nextCursor,
    };
  }

  /** The caller's view of conversations: counts, role, last message. */
  private async views_(userId: string, rows: readonly MembershipRow[]): Promise<Conversation[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const positions = rows.map((r) => ({ conversationId: r.id, afterSeq: Number(r.last_read_seq) }));
    const [heads, unread, mentions, excluded] = await Promise.all([
      this.messages.heads(ids),
      this.messages.countUnread(userId, positions),
      this.repo.unreadMentions(userId, positions),
      this.hooks.unreadExcluded(userId, positions),
    ]);
    const lastMessages = await this.views.many(rows.map((r) => heads.get(r.id)?.lastMessage).filter((m) => m != null));
    const lastById = new Map(lastMessages.map((m) => [m.conversationId, m]));
    return rows.map((r) => {
      const c: Conversation = {
        id: r.id,
        type: r.type,
        memberCount: r.member_count,
        lastSeq: heads.get(r.id)?.lastSeq ?? 0,
        unreadCount: Math.max(0, (unread.get(r.id) ?? 0) - (excluded.get(r.id) ?? 0)),
        unreadMentionCount: mentions.get(r.id) ?? 0,
        role: r.role,
        lastReadSeq: Number(r.last_read_seq),
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
      };
      if (r.title !== null) c.title = r.title;
      if (r.topic !== null) c.topic = r.topic;
      if (r.avatar_media_id !== null) c.avatarMediaId = r.avatar_media_id;
      if (r.direct_key) c.peerId = r.direct_key.split(':').find((u) => u !== userId) ?? userId;
      const last = lastById.get(r.id);
      if (last) c.lastMessage = last;
      return c;
    });
  }

  async update(userId: string, conversationId: string, patch: { title?: string; topic?: string | null; avatarMediaId?: string | null }): Promise<Conversation> {
    const row = await this.requireMember(userId, conversationId);
    if (row.type !== 'group') throw forbidden('A direct conversation has no title or topic.');
    if (!MANAGERS.includes(row.role)) throw forbidden('Only the owner or an admin can edit the group.');
    if (patch.avatarMediaId) await this.hooks.validateAvatar(userId, patch.avatarMediaId);
    await this.repo.update(conversationId, patch);
    const updated = await this.get(userId, conversationId);
    await this.repo.appendEvent(conversationId, null, 'conversation.updated', { conversationId });
    await this.realtime.toConversation(conversationId, { type: 'conversation.updated', conversation: sharedView(updated) });
    await this.systemMessage(conversationId, userId, { action: 'updated', actorId: userId });
    return updated;
  }

  /**
   * The owner sets a member's role: promotes to or demotes from admin, or hands ownership
   * over (`owner`: the caller becomes an admin). Returns the members.
   */
  async setRole(userId: string, conversationId: string, targetId: string, role: Role): Promise<Member[]> {
    const changed = await this.db.transaction(async (tx) => {
      const repo = new ConversationsRepository(tx);
      const conv = await repo.lock(conversationId);
      const mine = conv ? await repo.role(conversationId, userId) : null;
      if (!conv || !mine) throw notFound('Conversation not found.');
      if (conv.type !== 'group') throw forbidden('A direct conversation has no roles.');
      if (mine !== 'owner') throw forbidden('Only the owner can change roles.');
      const theirs = await repo.role(conversationId, targetId);
      if (!theirs) throw notFound('That user is not a member.');
      if (targetId === userId) throw invalid('Hand ownership to another member instead.');
      if (theirs === role) return [];
      await repo.setRole(conversationId, targetId, role);
      const changes: { userId: string; role: Role }[] = role === 'owner' ? [{ userId: targetId, role }, { userId, role: 'admin' }] : [{ userId: targetId, role }];
      if (role === 'owner') await repo.setRole(conversationId, userId, 'admin');
      // The role changes and their sync events commit together.
      for (const c of changes) await repo.appendEvent(conversationId, c.userId, 'member.updated', { conversationId, userId: c.userId, role: c.role });
      return changes;
    });
    for (const c of changed) await this.realtime.toConversation(conversationId, { type: 'member.updated', conversationId, userId: c.userId, role: c.role });
    if (changed.length) {
      const action = role === 'owner' ? 'owner.transferred' : role === 'admin' ? 'admin.added' : 'admin.removed';
      await this.systemMessage(conversationId, userId, { action, actorId: userId, userIds: [targetId] });
    }
    return this.members(userId, conversationId);
  }

  async members(userId: string, conversationId: string): Promise<Member[]> {
    await this.requireMember(userId, conversationId);
    return (await this.repo.members(conversationId)).map((m) => ({ userId: m.user_id, role: m.role, joinedAt: m.joined_at.toISOString(), lastReadSeq: Number(m.last_read_seq) }));
  }

  async addMembers(userId: string, conversationId: string, userIds: readonly string[]): Promise<Member[]> {
    const wanted = [...new Set(userIds)];
    await this.assertUsersExist(wanted);
    const added = await this.db.transaction(async (tx) => {
      const repo = new ConversationsRepository(tx);
      const conv = await repo.lock(conversationId);
      const role = conv ? await repo.role(conversationId, userId) : null;
      if (!conv || !role) throw notFound('Conversation not found.');
      if (conv.type !== 'group') throw forbidden('Members cannot be added to a direct conversation.');
      if (!MANAGERS.includes(role)) throw forbidden('Only the owner or an admin can add members.');
      const current = new Set(await repo.memberIds(conversationId));
      const fresh = wanted.filter((u) => !current.has(u));
      if (current.size + fresh.length > this.config.GROUP_MEMBER_LIMIT) {
        throw invalid(`A group has at most ${this.config.GROUP_MEMBER_LIMIT} members.`);
      }
      return repo.addMembers(conversationId, fresh.map((u) => ({ userId: u, role: 'member' as const })));
    });
    // Someone joining an active group starts with its past read, not thousands of unread.
    const head = (await this.messages.heads([conversationId])).get(conversationId);
    if (added.length && head) await this.repo.startReadingAt(conversationId, added, head.lastSeq);
    if (added.length) {
      await this.announceJoined(conversationId, added);
      await this.systemMessage(conversationId, userId, { action: 'member.added', actorId: userId, userIds: added });
    }
    return this.members(userId, conversationId);
  }

  /** Owner/admin removes a member, or a member removes itself (leave). */
  async removeMember(userId: string, conversationId: string, targetId: string): Promise<void> {
    const leaving = userId === targetId;
    await this.db.transaction(async (tx) => {
      const repo = new ConversationsRepository(tx);
      const conv = await repo.lock(conversationId);
      const role = conv ? await repo.role(conversationId, userId) : null;
      if (!conv || !role) throw notFound('Conversation not found.');
      if (conv.type !== 'group') throw forbidden('Nobody can leave or be removed from a direct conversation.');
      const targetRole = leaving ? role : await repo.role(conversationId, targetId);
      if (!targetRole) throw notFound('That user is not a member.');
      if (!leaving) {
        if (!MANAGERS.includes(role)) throw forbidden('Only the owner or an admin can remove members.');
        if (targetRole === 'owner' || (targetRole === 'admin' && role !== 'owner')) throw forbidden('You cannot remove this member.');
      }
      await repo.removeMember(conversationId, targetId);
      if (targetRole === 'owner') await this.handOverOwnership(tx, conversationId);
      // In the same transaction: a removal is never committed without its sync event.
      await repo.appendEvent(conversationId, targetId, 'member.removed', { conversationId, userId: targetId });
    });
    this.hooks.onMemberRemoved(targetId, conversationId);
    // First every gateway drops them from the conversation (nothing sent to it after this
    // reaches them, and their sessions stop counting as members for typing)...
    await this.realtime.toUsers([targetId], { type: '$leave', conversationId });
    await this.realtime.toConversation(conversationId, { type: 'member.removed', conversationId, userId: targetId });
    // ...then they hear of it on their own topic, behind the `$leave`: once a client has seen
    // its removal, its gateway has already stopped treating it as a member.
    await this.realtime.toUsers([targetId], { type: 'member.removed', conversationId, userId: targetId });
    await this.hooks.leaveCalls(conversationId, targetId).catch(() => {});
    await this.systemMessage(conversationId, userId, { action: leaving ? 'member.left' : 'member.removed', actorId: userId, userIds: [targetId] });
  }

  /** An owner who leaves hands the group to the longest-standing admin, else member. */
  private async handOverOwnership(tx: Parameters<Parameters<SqlDatabase['transaction']>[0]>[0], conversationId: string): Promise<void> {
    await tx.query(
      `UPDATE members SET role = 'owner' WHERE conversation_id = $1 AND user_id = (
         SELECT user_id FROM members WHERE conversation_id = $1
         ORDER BY (role = 'admin') DESC, joined_at, user_id LIMIT 1)`,
      [conversationId],
    );
  }

  /** Logs and publishes that users joined: their gateways subscribe, they get the conversation. */
  private async announceJoined(conversationId: string, userIds: readonly string[]): Promise<void> {
    for (const u of userIds) {
      await this.repo.appendEvent(conversationId, u, 'member.added', { conversationId, userId: u });
      await this.realtime.toConversation(conversationId, { type: 'member.added', conversationId, userId: u });
    }
    for (const u of userIds) {
      await this.realtime.toUsers([u], { type: '$join', conversationId });
      await this.realtime.toUsers([u], { type: 'member.added', conversationId, userId: u });
      const view = await this.repo.findForMember(conversationId, u);
      if (view) await this.realtime.toUsers([u], { type: 'conversation.updated', conversation: (await this.views_(u, [view]))[0]! });
    }
  }

  /** Records a membership or settings change (or a call, with its `text`) as a system message in the history. */
  async systemMessage(conversationId: string, actorId: string, system: { action: string; actorId: string; userIds?: string[]; messageId?: string }, text: string | null = null): Promise<void> {
    const id = newId();
    const { message } = await this.messages.insert({
      id,
      conversationId,
      senderId: actorId,
      clientMsgId: `system:${id}`,
      kind: 'system',
      text,
      attachments: [],
      replyToId: null,
      mentions: [],
      system,
    });
    await this.repo.touchActivity(conversationId, message.createdAt);
    await this.realtime.toConversation(conversationId, { type: 'message.new', message: await this.views.one(message) });
  }

  /** Moves the caller's read position forward (never back, never past the last message). */
  /**
   * Advances the reader's watermark (never past the last message). The watermark update
   * checks membership and records the event in the same statement: a non-member learns
   * nothing (the head read before it is only used to clamp, never returned).
   */
  async markRead(userId: string, conversationId: string, seq: number): Promise<{ lastReadSeq: number; unreadCount: number }> {
    const head = (await this.messages.heads([conversationId])).get(conversationId);
    const target = Math.min(seq, head?.lastSeq ?? 0);
    const r = await this.repo.advanceRead(conversationId, userId, target);
    if (!r) throw notFound('Conversation not found.');
    if (r.moved) {
      this.hooks.onRead(userId, conversationId);
      await this.realtime.toConversation(conversationId, { type: 'read', conversationId, userId, seq: r.lastReadSeq });
    }
    const position = [{ conversationId, afterSeq: r.lastReadSeq }];
    const [unread, excluded] = await Promise.all([this.messages.countUnread(userId, position), this.hooks.unreadExcluded(userId, position)]);
    return { lastReadSeq: r.lastReadSeq, unreadCount: Math.max(0, (unread.get(conversationId) ?? 0) - (excluded.get(conversationId) ?? 0)) };
  }
}

/**
 * The part of a conversation that is the same for every member, for events sent to the
 * whole conversation; clients keep their own counts and role from their last fetch.
 */
export function sharedView(c: Conversation): Conversation {
  const { unreadCount: _u, unreadMentionCount: _m, role: _r, lastReadSeq: _l, ...shared } = c;
  return shared as Conversation;
}

