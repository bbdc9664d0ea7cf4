import { conflict, forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { MessageStore, StoredMessage } from '../../platform/message-store/index.js';
import { MESSAGE_JOB_KINDS, type JobKind } from '../../platform/jobs/jobs.port.js';
import type { SendRepository } from './send.repository.js';
import type { SendBatcher } from './send.batcher.js';
import type { PresenceStore } from '../../platform/presence/index.js';
import type { Media, Message } from '../../../sdk/types.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { UsersRepository } from '../users/users.repository.js';
import type { Realtime } from '../realtime/realtime.js';
import type { Metrics } from '../../gateway/metrics.js';
import type { MessageViews } from './message.view.js';
import { parseMentions } from './mentions.js';
import { Lanes } from '../../platform/batch/lanes.js';
import type { MessageEditsRepository } from './message-edits.repository.js';

export const MAX_TEXT_LENGTH = 4000;
export const MAX_ATTACHMENTS = 10;

export interface SendInput {
  conversationId: string;
  clientMsgId: string;
  text?: string | null;
  attachments?: string[];
  replyToId?: string | null;
  /** Starts or continues the thread of this message. */
  threadRootId?: string | null;
}

/** Thread hooks provided by the threads module. */
export interface ThreadHooks {
  resolveRoot(conversationId: string, threadRootId: string): Promise<StoredMessage>;
  recordReply(reply: StoredMessage, root: StoredMessage): Promise<void>;
}

/** Media hooks provided by the media module. */
export interface AttachmentPolicy {
  /** Checks the sender may attach these (owned, completed); returns them in order. */
  attachable(userId: string, mediaIds: readonly string[]): Promise<Media[]>;
}

/** Wakes the outbox relay of this process after a commit wrote outbox rows (it also polls). */
export interface OutboxWaker {
  wake(): void;
}

/**
 * Mention detection, queued with MESSAGE_JOB_KINDS for a message that mentions someone. The send
 * resolves the mentions itself (they are in the message and its statement's `mentions`
 * rows), so for a message mentioning nobody the job would read the message and find
 * nothing to record or invalidate: it is left out (one job, one message read and one
 * processed-jobs row less per message, most messages).
 */
export const MENTION_JOB: JobKind = 'mentions.detect';

/** The jobs of a new message: MESSAGE_JOB_KINDS, mention detection when it mentions someone, then `extra`. */
export function jobsOfSend(mentions: readonly string[], extra: readonly JobKind[]): readonly JobKind[] {
  if (mentions.length === 0 && extra.length === 0) return MESSAGE_JOB_KINDS;
  return [...MESSAGE_JOB_KINDS, ...(mentions.length ? [MENTION_JOB] : []), ...extra];
}

/** Everything MessagesService uses, given once at construction. */
export interface MessagesServiceDeps {
  store: MessageStore;
  /** The SQL half of a send, in one statement (the MongoDB store's path). */
  sends: SendRepository;
  /** The SQL store's sends, group-committed under load. */
  batcher: SendBatcher;
  conversations: ConversationsService;
  users: UsersRepository;
  presence: PresenceStore;
  views: MessageViews;
  realtime: Realtime;
  attachments: AttachmentPolicy;
  outbox: OutboxWaker;
  metrics: Metrics;
  /** Told the users whose mentions an edit or delete changed (notifications drop their cached mentions). */
  mentionsChanged?: (userIds: string[]) => void;
  /** Edit history: every edit keeps the text it replaced. */
  edits: MessageEditsRepository;
  /** From the blocks module: refuses a send to a direct conversation whose other member blocked the sender. */
  assertNotBlocked: (conversationId: string, senderId: string) => Promise<void>;
  /** Called after a message became a tombstone (pins and threads drop it). */
  onDeleted: readonly ((conversationId: string, messageId: string, seq: number, actorId: string) => Promise<void>)[];
  /** From the threads module. */
  threads: ThreadHooks;
  /**
   * Jobs a new message needs besides MESSAGE_JOB_KINDS, from its text (link previews). They are
   * outbox rows of the send's own statement, committed with the message.
   */
  jobsFor: (text: string | null) => readonly JobKind[];
}

/**
 * Messages: send (idempotent by clientMsgId), history, edit, delete, reactions. REST and
 * WebSocket both call these methods; membership is checked first on every one.
 */
export class MessagesService {
  private readonly store: MessageStore;
  private readonly sends: SendRepository;
  private readonly batcher: SendBatcher;
  private readonly conversations: ConversationsService;
  private readonly users: UsersRepository;
  private readonly presence: PresenceStore;
  private readonly views: MessageViews;
  private readonly realtime: Realtime;
  private readonly attachments: AttachmentPolicy;
  private readonly outbox: OutboxWaker;
  private readonly metrics: Metrics;
  private readonly mentionsChanged: (userIds: string[]) => void;
  private readonly edits: MessageEditsRepository;
  private readonly assertNotBlocked: (conversationId: string, senderId: string) => Promise<void>;
  private readonly onDeleted: readonly ((conversationId: string, messageId: string, seq: number, actorId: string) => Promise<void>)[];
  private readonly threads: ThreadHooks;
  private readonly jobsFor: (text: string | null) => readonly JobKind[];
  /** conversationId → this process's `message.new` publishes, in store order. */
  private readonly publishLanes = new Lanes();

  constructor(deps: MessagesServiceDeps) {
    this.store = deps.store;
    this.sends = deps.sends;
    this.batcher = deps.batcher;
    this.conversations = deps.conversations;
    this.users = deps.users;
    this.presence = deps.presence;
    this.views = deps.views;
    this.realtime = deps.realtime;
    this.mentionsChanged = deps.mentionsChanged ?? (() => {});
    this.edits = deps.edits;
    this.assertNotBlocked = deps.assertNotBlocked;
    this.onDeleted = deps.onDeleted;
    this.threads = deps.threads;
    this.jobsFor = deps.jobsFor;
    this.attachments = deps.attachments;
    this.outbox = deps.outbox;
    this.metrics = deps.metrics;
  }

  /**
   * Stores a user message and everything that goes with it, all or nothing: its seq, the
   * message, its mentions, the media posts of its attachments, the conversation's activity,
   * the sender's read position and the outbox rows of its jobs (SQL store: one statement,
   * so a plain text send is one round trip and the membership check is part of it).
   *
   * With the MongoDB store the message is stored in MongoDB first and the rest in one SQL
   * statement after it: two databases cannot commit together, so both halves are
   * idempotent instead, and a retry with the same clientMsgId completes whatever a failure
   * between them left out (then publishes, since the first attempt may not have).
   */
  /**
   * `opts.queued` is called once the send has its place in the order of this sender's sends
   * to the conversation (on the SQL store: handed to the group commit, which stores one
   * sender's sends to a conversation in the order they were handed over). A caller may then
   * start its next send without waiting for this one to commit. Never called on a path that
   * has no such point before the end (the MongoDB store): the caller then waits for the result.
   */
  async send(userId: string, input: SendInput, opts: { queued?: () => void } = {}): Promise<{ message: Message; created: boolean }> {
    const text = input.text ?? null;
    const attachments = [...new Set(input.attachments ?? [])];
    if (!/^[\x21-\x7e]{1,64}$/.test(input.clientMsgId)) throw invalid('clientMsgId must be 1–64 printable ASCII characters.');
    if (text !== null && [...text].length > MAX_TEXT_LENGTH) throw invalid(`Text is at most ${MAX_TEXT_LENGTH} characters.`);
    if (text !== null && text.includes('\u0000')) throw invalid('Text must not contain NUL characters.');
    if ((text === null || text.trim() === '') && attachments.length === 0) throw invalid('A message needs text or attachments.');
    if ((input.attachments ?? []).length > MAX_ATTACHMENTS) throw invalid(`At most ${MAX_ATTACHMENTS} attachments.`);

    const replyToId = input.replyToId ?? null;
    const threadRootId = input.threadRootId ?? null;
    // The send statement checks membership itself; anything read before it (a reply
    // target, a thread root, media, or the MongoDB insert) must not answer a non-member first.
    if (!this.store.inSqlDatabase || replyToId || threadRootId || attachments.length) {
      const membership = await this.conversations.requireMember(userId, input.conversationId);
      // Blocking only ever applies to a direct conversation. On the SQL store's plain path
      // the send statement's gate checks it itself (no round trip of its own).
      if (membership.type === 'direct') await this.assertNotBlocked(input.conversationId, userId);
    }
    if (replyToId) {
      const target = await this.store.findById(input.conversationId, replyToId);
      if (!target) throw invalid('replyToId must be a message of the same conversation.');
    }
    const threadRoot = threadRootId ? await this.threads.resolveRoot(input.conversationId, threadRootId) : null;
    if (attachments.length) await this.attachments.attachable(userId, attachments);
    const mentions = text ? await this.resolveMentions(input.conversationId, userId, text) : [];
    const row = { id: newId(), conversationId: input.conversationId, senderId: userId, clientMsgId: input.clientMsgId, text, attachments, replyToId, mentions };

    let stored: StoredMessage;
    let created: boolean;
    /** The view to publish, or null when there is nothing to publish (a completed retry). */
    let made: Promise<Message | null>;
    if (this.store.inSqlDatabase) {
      const submitted = this.batcher.submit(row, jobsOfSend(mentions, this.jobsFor(text)));
      opts.queued?.();
      const r = await submitted;
      if (r.kind !== 'stored') {
        // Nothing written: a retry (everything of the first attempt committed with it, so
        // there is nothing to repair), a concurrent copy that won, or a non-member.
        const existing = await this.store.findByClientMsgId(userId, input.clientMsgId);
        if (!existing) {
          if (r.kind === 'duplicate') throw conflict('This clientMsgId is being used by another send; retry.');
          // Not a member (not_found), or blocked by the other member of a direct conversation.
          const membership = await this.conversations.requireMember(userId, input.conversationId);
          if (membership.type === 'direct') await this.assertNotBlocked(input.conversationId, userId);
          throw conflict('The send did not go through; retry.');
        }
        // A non-member gets not_found, never a message (even one they sent before removal).
        await this.conversations.requireMember(userId, input.conversationId);
        const again = await this.sameConversation(existing, input.conversationId);
        // The thread bookkeeping lives beside the send statement: if the first attempt died
        // after its commit and before recording the reply, this retry records it
        // (idempotent: the reply row, follows and read mark are upserts, the summary is recomputed).
        if (threadRoot) await this.threads.recordReply(existing, threadRoot);
        return { message: again, created: false };
      }
      stored = r.message;
      created = true;
      made = this.afterStore(stored, created, threadRoot);
    } else {
      const r = await this.store.insert({ ...row, kind: 'user', system: null });
      if (r.message.conversationId !== input.conversationId) throw conflict('This clientMsgId was already used for a message in another conversation.');
      stored = r.message;
      created = r.created;
      // The SQL half runs inside the lane's wait: the store answered in seq order, and an
      // await before entering the lane would let a later send of the conversation in first.
      made = (async () => {
        // The jobs of the message as stored: a retry completing an earlier attempt may have
        // resolved its mentions differently (@here), and the stored ones are what it records.
        const side = await this.sends.storeSideEffects(r.message, jobsOfSend(r.message.mentions, this.jobsFor(r.message.text)));
        // Removed between the check and the SQL half: the message stays in the history (as a
        // message sent just before the removal would), but gets no jobs and no activity.
        if (!side) throw notFound('Conversation not found.');
        if (!r.created && !side.completedNow) return null;
        return this.afterStore(r.message, r.created, threadRoot);
      })();
    }
    // Handled here as well as in the lane: while an earlier send of the conversation holds
    // the lane, nothing awaits `made` yet, and a rejection left unhandled that long would
    // end the process. The lane's `await made` still hands the error to this send's caller.
    made.catch(() => undefined);
    // Published in the order this process stored the conversation's messages, whatever
    // each one's view costs (a thread reply, attachments): a pipelined plain send must not
    // overtake the reply before it, or every member sees a seq gap and fetches it. The lane
    // is entered with no await since the store answered, so it follows the store's order.
    // The lane only orders the issuing: the bus keeps the order of what was issued on it,
    // so the next publish need not wait for this one's reply (sends stay concurrent).
    const published = await this.publishLanes.run(stored.conversationId, async () => {
      const m = await made;
      if (!m) return null;
      // The sender's read position travels in the event (one frame per message for everyone).
      return { message: m, sent: this.realtime.toConversation(stored.conversationId, { type: 'message.new', message: m, senderReadSeq: stored.seq }) };
    });
    if (!published) return { message: await this.views.one(stored), created: false };
    await published.sent;
    return { message: published.message, created };
  }

  /** What follows a stored send before it is published: thread bookkeeping, the outbox wake, the view. */
  private async afterStore(stored: StoredMessage, created: boolean, threadRoot: StoredMessage | null): Promise<Message> {
    // Recorded before the view is made, so the new message's events name its thread.
    if (threadRoot) await this.threads.recordReply(stored, threadRoot);
    this.outbox.wake();
    this.metrics.messagesSent.inc();
    // A new message has no thread of its own yet; its root (if a reply) is known here.
    return created ? this.views.fresh(stored, threadRoot ? { threadRootId: threadRoot.id } : {}) : this.views.one(stored);
  }

  private async sameConversation(m: StoredMessage, conversationId: string): Promise<Message> {
    if (m.conversationId !== conversationId) throw conflict('This clientMsgId was already used for a message in another conversation.');
    return this.views.one(m);
  }

  /** Mentioned members: named ones, everyone for @all, online ones for @here (never the sender). */
  private async resolveMentions(conversationId: string, senderId: string, text: string): Promise<string[]> {
    const parsed = parseMentions(text);
    if (!parsed.all && !parsed.here && parsed.usernames.length === 0) return [];
    const memberIds = (await this.conversations.repo.memberIds(conversationId)).filter((u) => u !== senderId);
    const out = new Set<string>();
    if (parsed.all) memberIds.forEach((u) => out.add(u));
    if (parsed.here && !parsed.all) {
      for (const u of await this.presence.online(memberIds)) out.add(u);
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
      await this.edits.record(conversationId, messageId, userId, m.text, r.message.editedAt ?? new Date());
      await this.conversations.repo.replaceMentions(conversationId, messageId, r.message.seq, mentions);
      this.mentionsChanged([...new Set([...m.mentions, ...mentions])]);
      await this.realtime.toConversation(conversationId, { type: 'message.updated', message });
    }
    return message;
  }

  async remove(userId: string, conversationId: string, messageId: string): Promise<void> {
    const membership = await this.conversations.requireMember(userId, conversationId);
    const m = await this.requireMessage(conversationId, messageId);
    const moderator = membership.type === 'group' && (membership.role === 'owner' || membership.role === 'admin');
    if (m.senderId !== userId && !moderator) throw forbidden('Only the sender or a group owner/admin can delete a message.');
    await this.tombstone(userId, m);
  }

  /** Deletes a message as a deployment administrator (the caller checked the admin flag). */
  async removeAsAdmin(adminId: string, conversationId: string, messageId: string): Promise<void> {
    await this.tombstone(adminId, await this.requireMessage(conversationId, messageId));
  }

  private async tombstone(actorId: string, m: StoredMessage): Promise<void> {
    const { conversationId, id: messageId } = m;
    const r = await this.store.apply(conversationId, messageId, { kind: 'delete' });
    if (!r) throw notFound('Message not found.');
    if (r.changed) {
      await this.conversations.repo.replaceMentions(conversationId, messageId, r.message.seq, []);
      this.mentionsChanged(m.mentions);
      await this.edits.purge(conversationId, messageId);
      for (const hook of this.onDeleted) await hook(conversationId, messageId, r.message.seq, actorId);
      const message = await this.views.one(r.message);
      await this.realtime.toConversation(conversationId, { type: 'message.deleted', conversationId, messageId, seq: r.message.seq, message });
    }
  }

  /** The texts a message had before each edit, oldest first (members only; none once deleted). */
  async editHistory(userId: string, conversationId: string, messageId: string): Promise<{ edits: { text: string | null; editedAt: string; editorId: string }[] }> {
    await this.conversations.requireMember(userId, conversationId);
    const m = await this.requireMessage(conversationId, messageId);
    if (m.deletedAt) return { edits: [] };
    const rows = await this.edits.list(conversationId, messageId);
    return { edits: rows.map((r) => ({ text: r.previous_text, editedAt: r.edited_at.toISOString(), editorId: r.editor_id })) };
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
  /**
   * Tells the conversation the user is typing. `subscribed`: the caller's gateway session
   * hears the conversation's topic, which it does only as a member (it joins on `$join` and
   * leaves on `$leave`, published when membership changes), so no query is needed; otherwise
   * membership is read from the database.
   */
  async typing(userId: string, conversationId: string, subscribed = false): Promise<void> {
    if (!subscribed) await this.conversations.requireMember(userId, conversationId);
    await this.realtime.toConversation(conversationId, { type: 'typing', conversationId, userId });
  }
}

/** An emoji or short code: no whitespace or control characters, at most 32 code points. */
export function isReaction(s: string): boolean {
  const n = [...s].length;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return n >= 1 && n <= 32 && !/[\s\u0000-\u001f\u007f]/u.test(s);
}
