import type { ChangeScan, ChangeSnapshot } from '../../platform/changes.js';
import type { MessageChangeRow, MessageStore } from '../../platform/message-store/index.js';
import type { Role, SyncEvent } from '../../../sdk/types.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { EventRow } from '../conversations/conversations.repository.js';
import type { MessageViews } from '../messages/message.view.js';
import { decodeCursor, encodeCursor, type SyncCursor } from './sync.cursor.js';

/**
 * How far back the first sync from a cursor handed out on a live connection (`ready`,
 * `pong`) also looks by time. Such a cursor says "everything committed so far was
 * delivered", but a change that committed just before it may still be on its way through
 * the bus to this connection: the first sync from it resends the changes of these last
 * seconds (clients drop what they already have: same message `rev`), then cursors are exact.
 * Commit order needs no window: that is what the change snapshots are for.
 */
const LIVE_SLACK_MS = 10_000;

type Item = { at: Date; stream: 'm'; change: bigint; id: string; m: MessageChangeRow } | { at: Date; stream: 'e'; change: bigint; id: string; e: EventRow };

/**
 * The position a stream continues from after one page: a stream delivered in full moves on
 * to the snapshot its scan ran under; one cut short keeps paging that scan after its last
 * delivered change; one with nothing taken stays where it was.
 */
function advance(scan: ChangeScan, snapshot: ChangeSnapshot, fetched: number, taken: readonly Item[]): { pos: ChangeScan; done: boolean } {
  // A continuing page was read under the scan's `until`; only a first page under the fresh one.
  const under = scan.until ?? snapshot;
  if (taken.length === fetched) return { pos: { from: { snapshot: under } }, done: true };
  const last = taken[taken.length - 1];
  if (!last) return { pos: scan, done: false };
  return { pos: { from: scan.from, until: under, after: { change: last.change, id: last.id } }, done: false };
}

/** Everything a user should know since a cursor: message changes and conversation events, in order. */
export class SyncService {
  constructor(
    private readonly store: MessageStore,
    private readonly conversations: ConversationsService,
    private readonly views: MessageViews,
  ) {}

  /**
   * A cursor meaning "now": what a client gets from a sync with no `since`, and (with
   * `live`, see `LIVE_SLACK_MS`) in `ready` and `pong` frames.
   */
  async freshCursor(opts: { live: boolean }): Promise<string> {
    // Both streams in one SQL database (the SQL message store) share one snapshot: read it
    // once (this runs for every `ready` and `pong`).
    const [m, e] = this.store.inSqlDatabase
      ? await this.conversations.repo.eventSnapshot().then((both) => [both, both])
      : await Promise.all([this.store.changeSnapshot(), this.conversations.repo.eventSnapshot()]);
    const since = opts.live ? { since: new Date(Date.now() - LIVE_SLACK_MS) } : {};
    return encodeCursor({ m: { from: { snapshot: m, ...since } }, e: { from: { snapshot: e, ...since } } });
  }

  async since(userId: string, since: string | undefined, limit: number): Promise<{ events: SyncEvent[]; cursor: string; hasMore: boolean }> {
    if (!since) return { events: [], cursor: await this.freshCursor({ live: false }), hasMore: false };
    const cur = decodeCursor(since);
    const convIds = await this.conversations.repo.conversationIdsOf(userId);
    const [msgs, evs] = await Promise.all([
      this.store.changedSince(convIds, cur.m, limit + 1),
      this.conversations.repo.eventsSince(convIds, userId, cur.e, limit + 1),
    ]);
    // Merge the two streams by time for a natural order, each kept in the order its scan
    // returned (change order, which its keyset continues from): re-sorting a stream here
    // could deliver a later change and page past an earlier one.
    const ms: Item[] = msgs.changes.map((m) => ({ at: m.message.updatedAt, stream: 'm' as const, change: m.change, id: m.message.id, m }));
    const es: Item[] = evs.events.map((e) => ({ at: e.created_at, stream: 'e' as const, change: BigInt(e.change), id: String(e.id), e }));
    const items: Item[] = [];
    for (let i = 0, j = 0; i < ms.length || j < es.length; ) {
      const takeEvent = i >= ms.length || (j < es.length && es[j]!.at.getTime() <= ms[i]!.at.getTime());
      items.push(takeEvent ? es[j++]! : ms[i++]!);
    }
    const taken = items.slice(0, limit);
    const m = advance(cur.m, msgs.snapshot, ms.length, taken.filter((it) => it.stream === 'm'));
    const e = advance(cur.e, evs.snapshot, es.length, taken.filter((it) => it.stream === 'e'));
    const next: SyncCursor = { m: m.pos, e: e.pos };

    const events: SyncEvent[] = [];
    const messageViews = await this.views.many(taken.flatMap((it) => (it.stream === 'm' ? [it.m.message] : [])));
    const viewById = new Map(messageViews.map((v) => [v.id, v]));
    for (const it of taken) {
      if (it.stream === 'm') {
        const { message: stored, isNew } = it.m;
        const message = viewById.get(stored.id)!;
        if (stored.deletedAt) events.push({ type: 'message.deleted', conversationId: stored.conversationId, messageId: stored.id, seq: stored.seq, message });
        // Sending read up to the message: its sender's read position travels with it (user messages).
        else if (isNew) events.push(stored.kind === 'user' ? { type: 'message.new', message, senderReadSeq: stored.seq } : { type: 'message.new', message });
        else events.push({ type: 'message.updated', message });
      } else {
        const ev = await this.eventFrame(userId, it.e);
        if (ev) events.push(ev);
      }
    }
    return { events, cursor: encodeCursor(next), hasMore: !(m.done && e.done) };
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
