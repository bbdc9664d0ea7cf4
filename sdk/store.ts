/**
 * A small client-side state: conversations, and messages per conversation by `seq`.
 * Events may arrive twice (resume rescans a window) or out of order (a replay is ordered by
 * change time, not seq), so every message is applied by `rev` — the highest wins — and each
 * conversation tracks the highest seq up to which it has no hole, which is what gap
 * detection compares an incoming seq against.
 */
import type { Conversation, Message } from './types.js';

/** `new`: first time seen; `updated`: a newer rev of a held message; `stale`: nothing newer. */
export type ApplyResult = 'new' | 'updated' | 'stale';

interface ConversationState {
  bySeq: Map<number, Message>;
  /**
   * Every seq ≤ this is held or lies before the loaded window (older history not fetched).
   * Undefined until something tells us where the conversation stands.
   */
  contiguous: number | undefined;
}

export class ChatStore {
  private readonly convs = new Map<string, ConversationState>();
  private readonly conversationsById = new Map<string, Conversation>();

  private state(conversationId: string): ConversationState {
    let s = this.convs.get(conversationId);
    if (!s) this.convs.set(conversationId, (s = { bySeq: new Map(), contiguous: undefined }));
    return s;
  }

  // --- conversations ---------------------------------------------------------------------

  conversations(): Conversation[] {
    return [...this.conversationsById.values()];
  }

  conversation(id: string): Conversation | undefined {
    return this.conversationsById.get(id);
  }

  /**
   * Merges a conversation view. A view sent to the whole conversation lacks the caller's
   * own counts and role: those are kept from what we had.
   */
  upsertConversation(c: Conversation): Conversation {
    const prev = this.conversationsById.get(c.id);
    // Fields absent from `c` (the per-member ones of a shared view) keep their old values.
    const merged: Conversation = { ...prev, ...c };
    if (prev) {
      if (prev.lastSeq > merged.lastSeq) {
        merged.lastSeq = prev.lastSeq;
        if (prev.lastMessage) merged.lastMessage = prev.lastMessage;
      }
    }
    this.conversationsById.set(c.id, merged);
    return merged;
  }

  removeConversation(id: string): void {
    this.conversationsById.delete(id);
    this.convs.delete(id);
  }

  // --- messages --------------------------------------------------------------------------

  /** Messages held for a conversation, ascending by seq. */
  messages(conversationId: string): Message[] {
    const s = this.convs.get(conversationId);
    if (!s) return [];
    return [...s.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  message(conversationId: string, seq: number): Message | undefined {
    return this.convs.get(conversationId)?.bySeq.get(seq);
  }

  /** The highest seq with no hole below it (in the loaded window), if known. */
  contiguousSeq(conversationId: string): number | undefined {
    return this.convs.get(conversationId)?.contiguous;
  }

  /** Says that everything up to `seq` is accounted for, when nothing was known yet. */
  setBaseline(conversationId: string, seq: number): void {
    const s = this.state(conversationId);
    if (s.contiguous !== undefined) return;
    s.contiguous = seq;
    this.advance(s);
  }

  /** True when `seq` cannot be applied without a hole below it: the gap must be fetched. */
  isGap(conversationId: string, seq: number): boolean {
    const s = this.convs.get(conversationId);
    if (!s || s.contiguous === undefined) return false;
    return seq > s.contiguous + 1 && !s.bySeq.has(seq);
  }

  /** True when some held message lies above a hole (after out-of-order replays). */
  hasHole(conversationId: string): boolean {
    const s = this.convs.get(conversationId);
    if (!s || s.contiguous === undefined) return false;
    for (const seq of s.bySeq.keys()) if (seq > s.contiguous) return true;
    return false;
  }

  /** Conversations with a known position. */
  trackedConversationIds(): string[] {
    return [...this.convs.entries()].filter(([, s]) => s.contiguous !== undefined).map(([id]) => id);
  }

  /** Stores a message unless a newer or equal rev is held. */
  apply(m: Message): ApplyResult {
    const s = this.state(m.conversationId);
    const held = s.bySeq.get(m.seq);
    if (held && held.rev >= m.rev) return 'stale';
    s.bySeq.set(m.seq, m);
    if (s.contiguous !== undefined && m.seq === s.contiguous + 1) this.advance(s);
    const c = this.conversationsById.get(m.conversationId);
    if (c && m.seq >= c.lastSeq) this.conversationsById.set(c.id, { ...c, lastSeq: m.seq, lastMessage: m });
    return held ? 'updated' : 'new';
  }

  private advance(s: ConversationState): void {
    if (s.contiguous === undefined) return;
    while (s.bySeq.has(s.contiguous + 1)) s.contiguous += 1;
  }
}
