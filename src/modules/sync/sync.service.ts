import { invalid } from '../../errors.js';
import type { MessageStore, StoredMessage } from '../../platform/message-store/index.js';
import type { Role, SyncEvent } from '../../../sdk/types.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { EventRow } from '../conversations/conversations.repository.js';
import type { MessageViews } from '../messages/message.view.js';

/**
 * How far back each sync rescans. A change is stamped when it is written, but becomes
 * visible only when its transaction commits; rescanning this window catches changes that
 * committed late. Clients drop what they already have (same message `rev`).
 */
export const SYNC_OVERLAP_MS = 10_000;

/** A position in one stream: (time, id) of the last item delivered; `c` = continue strictly after it. */
interface StreamPos {
  at: number;
  id: string;
  c: boolean;
}
interface Cursor {
  v: 1;
  m: StreamPos;
  e: StreamPos;
}

function encode(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** Cursor times must be real dates (year 2000 to 9999): anything else is a forged cursor. */
const MIN_AT = Date.UTC(2000, 0, 1);
const MAX_AT = Date.UTC(9999, 11, 31);

function decode(raw: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString()) as Cursor;
    const ok = (p: StreamPos) =>
      p && Number.isInteger(p.at) && p.at >= MIN_AT && p.at <= MAX_AT && typeof p.id === 'string' && p.id.length <= 64 && typeof p.c === 'boolean' && (!p.c || p.id !== '');
    if (c.v !== 1 || !ok(c.m) || !ok(c.e) || (c.e.c && !/^\d{1,20}$/.test(c.e.id))) throw new Error('bad cursor');
    return c;
  } catch {
    throw invalid('Invalid sync cursor.');
  }
}

function fresh(now: number): Cursor {
  return { v: 1, m: { at: now, id: '', c: false }, e: { at: now, id: '', c: false } };
}

/** A cursor meaning "now": what a client gets with no `since`, and in `ready` frames. */
export function freshCursor(now = Date.now()): string {
  return encode(fresh(now));
}

function scanFrom(p: StreamPos): Date {
  return new Date(p.c ? p.at : p.at - SYNC_OVERLAP_MS);
}


type Item = { at: Date; id: string; stream: 'm'; m: StoredMessage } | { at: Date; id: string; stream: 'e'; e: EventRow };

/** Everything a user should know since a cursor: message changes and conversation events, in order. */
export class SyncService {
  constructor(
    private readonly store: MessageStore,
    private readonly conversations: ConversationsService,
    private readonly views: MessageViews,
  ) {}

  async since(userId: string, since: string | undefined, limit: number): Promise<{ events: SyncEvent[]; cursor: string; hasMore: boolean }> {
    const started = Date.now();
    if (!since) return { events: [], cursor: freshCursor(started), hasMore: false };
    const cur = decode(since);
    const convIds = await this.conversations.repo.conversationIdsOf(userId);
    // A continuing stream resumes strictly after its last item, in the query itself.
    const [msgs, evs] = await Promise.all([
      this.store.changedSince(convIds, scanFrom(cur.m), limit + 1, cur.m.c ? cur.m.id : undefined),
      this.conversations.repo.eventsSince(convIds, userId, scanFrom(cur.e), limit + 1, cur.e.c ? Number(cur.e.id) : undefined),
    ]);
    // Merge the two streams, each kept in the order its query returned (the order its
    // keyset continues from): re-sorting here could take a later row before an earlier one.
    const ms: Item[] = msgs.map((m) => ({ at: m.updatedAt, id: m.id, stream: 'm' as const, m }));
    const es: Item[] = evs.map((e) => ({ at: e.created_at, id: String(e.id), stream: 'e' as const, e }));
    const items: Item[] = [];
    for (let i = 0, j = 0; i < ms.length || j < es.length; ) {
      const takeEvent = i >= ms.length || (j < es.length && es[j]!.at.getTime() <= ms[i]!.at.getTime());
      items.push(takeEvent ? es[j++]! : ms[i++]!);
    }
    const truncated = msgs.length > limit || evs.length > limit;
    const taken = items.slice(0, limit);
    const hasMore = truncated || items.length > limit;

    let next: Cursor;
    if (hasMore) {
      next = { v: 1, m: { ...cur.m }, e: { ...cur.e } };
      for (const it of taken) next[it.stream] = { at: it.at.getTime(), id: it.id, c: true };
      // A stream fetched in full up to the limit of the other must not rescan past what was taken.
    } else {
      next = fresh(started);
    }

    const events: SyncEvent[] = [];
    const messageViews = await this.views.many(taken.flatMap((it) => (it.stream === 'm' ? [it.m] : [])));
    const viewById = new Map(messageViews.map((v) => [v.id, v]));
    const windowStart = scanFrom(cur.m).getTime();
    for (const it of taken) {
      if (it.stream === 'm') {
        const message = viewById.get(it.m.id)!;
        if (it.m.deletedAt) events.push({ type: 'message.deleted', conversationId: it.m.conversationId, messageId: it.m.id, seq: it.m.seq, message });
        // Sending read up to the message: its sender's read position travels with it (user messages).
        else if (it.m.createdAt.getTime() >= windowStart) events.push(it.m.kind === 'user' ? { type: 'message.new', message, senderReadSeq: it.m.seq } : { type: 'message.new', message });
        else events.push({ type: 'message.updated', message });
      } else {
        const ev = await this.eventFrame(userId, it.e);
        if (ev) events.push(ev);
      }
    }
    return { events, cursor: encode(next), hasMore };
  }

  private async eventFrame(userId: string, e: EventRow): Promise<SyncEvent | null> {
    const p = (typeof e.payload === 'string' ? JSON.parse(e.payload) : e.payload) as { conversationId: string; userId?: string; seq?: number; role?: Role; messageId?: string };
    switch (e.type) {
      case 'member.added':
        return { type: 'member.added', conversationId: p.conversationId, userId: p.userId! };
      case 'member.removed':
        return { type: 'member.removed', conversationId: p.conversationId, userId: p.userId! };
      case 'read':
        return { type: 'read', conversationId: p.conversationId, userId: p.userId!, seq: p.seq! };
      case 'member.updated':
        return { type: 'member.updated', conversationId: p.conversationId, userId: p.userId!, role: p.role! };
      case 'message.pinned':
      case 'message.unpinned':
        return { type: e.type, conversationId: p.conversationId, messageId: p.messageId!, seq: p.seq!, userId: p.userId! };
      case 'thread.updated': {
        const t = p as unknown as Extract<SyncEvent, { type: 'thread.updated' }>;
        return { type: 'thread.updated', conversationId: t.conversationId, rootId: t.rootId, replyCount: t.replyCount, participants: t.participants, ...(t.lastReplyAt ? { lastReplyAt: t.lastReplyAt } : {}) };
      }
      case 'conversation.updated': {
        if (!(await this.conversations.isMember(userId, p.conversationId))) return null;
        return { type: 'conversation.updated', conversation: await this.conversations.get(userId, p.conversationId) };
      }
      default:
        return null;
    }
  }

  /** One page of messages after `afterSeq` (for `resume` with per-conversation seqs; the caller checked membership). */
  async afterSeq(conversationId: string, afterSeq: number, limit: number): Promise<{ events: SyncEvent[]; hasMore: boolean; lastSeq: number }> {
    const page = await this.store.list(conversationId, { afterSeq, limit });
    const events: SyncEvent[] = (await this.views.many(page.messages)).map((message) =>
      message.kind === 'user' ? { type: 'message.new', message, senderReadSeq: message.seq } : { type: 'message.new', message },
    );
    const last = page.messages[page.messages.length - 1];
    return { events, hasMore: page.hasMore && last !== undefined, lastSeq: last?.seq ?? afterSeq };
  }
}
