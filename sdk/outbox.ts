/**
 * The outbox: messages the user sent that the server has not acknowledged yet. Each gets
 * its `clientMsgId` once, when it is created, and keeps it through every retry, reconnect
 * and app restart — the server stores one message per `(sender, clientMsgId)`, so re-sending
 * is always safe and delivery is exactly once. Items are sent one at a time, in order, so
 * the conversation shows them in the order they were written even when a retry intervenes.
 * Storage is pluggable (in memory by default; IndexedDB, AsyncStorage… in apps).
 */
import type { Message } from './types.js';
import { ParleyError, isRetryable } from './rest.js';

export interface OutboxItem {
  clientMsgId: string;
  conversationId: string;
  text?: string | null;
  attachments?: string[];
  replyToId?: string;
  createdAt: string;
  /** Failed attempts so far (not counting disconnections). */
  attempts: number;
}

export interface OutboxStorage {
  /** Items saved last time, oldest first. */
  load(): Promise<OutboxItem[]>;
  /** Replaces what is stored with `items` (oldest first). */
  save(items: readonly OutboxItem[]): Promise<void>;
}

/** The default storage: survives reconnects, not restarts. */
export class MemoryOutboxStorage implements OutboxStorage {
  private items: OutboxItem[] = [];
  async load(): Promise<OutboxItem[]> {
    return this.items.map((i) => ({ ...i }));
  }
  async save(items: readonly OutboxItem[]): Promise<void> {
    this.items = items.map((i) => ({ ...i }));
  }
}

/** A random id for a new message: `crypto.randomUUID` where available. */
export function newClientMsgId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: <T extends Uint8Array>(a: T) => T } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export interface OutboxInput {
  text?: string | null;
  attachments?: string[];
  replyToId?: string;
  /** Your own id, if the app already made one (e.g. to show the message before it is sent). */
  clientMsgId?: string;
}

export interface OutboxOptions {
  storage?: OutboxStorage;
  /** Sends one item; resolves with the stored message, rejects with a `ParleyError`. */
  send: (item: OutboxItem) => Promise<Message>;
  /** Whether a send can be attempted now (connected). */
  canSend: () => boolean;
  onSent?: (item: OutboxItem, message: Message) => void;
  /** The item was dropped: the server refused it for good (e.g. `not_found`, `forbidden`). */
  onFailed?: (item: OutboxItem, error: ParleyError) => void;
  /** Delay before retrying after `unavailable`/`internal`/`timeout`. */
  retryDelayMs?: (attempt: number) => number;
  /** `internal` errors (a server bug) are retried this many times, then the item is dropped. */
  maxInternalAttempts?: number;
}

export interface QueuedSend {
  item: OutboxItem;
  /** Settles when the server acknowledged the message, or refused it for good. */
  delivered: Promise<Message>;
}

export class Outbox {
  private items: OutboxItem[] = [];
  private readonly storage: OutboxStorage;
  private readonly opts: OutboxOptions;
  private readonly waiters = new Map<string, { resolve: (m: Message) => void; reject: (e: ParleyError) => void }>();
  private readonly loaded: Promise<void>;
  private saving: Promise<void> = Promise.resolve();
  private pumping = false;
  private kickAgain = false;
  private notBefore = 0;
  private wake: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(opts: OutboxOptions) {
    this.opts = opts;
    this.storage = opts.storage ?? new MemoryOutboxStorage();
    this.loaded = this.storage.load().then(
      (stored) => {
        // Items queued before the load finished come after the stored (older) ones.
        const known = new Set(stored.map((i) => i.clientMsgId));
        this.items = [...stored, ...this.items.filter((i) => !known.has(i.clientMsgId))];
      },
      (err: unknown) => console.error('parley: could not load the outbox', err),
    );
  }

  /** Resolves once stored items are loaded. */
  ready(): Promise<void> {
    return this.loaded;
  }

  /** Pending items, oldest first. */
  pending(): readonly OutboxItem[] {
    return this.items;
  }

  /** Queues a message (stored before this resolves) and tries to send it. */
  async enqueue(conversationId: string, input: OutboxInput): Promise<QueuedSend> {
    await this.loaded;
    const item: OutboxItem = { clientMsgId: input.clientMsgId ?? newClientMsgId(), conversationId, createdAt: new Date().toISOString(), attempts: 0 };
    if (input.text !== undefined) item.text = input.text;
    if (input.attachments?.length) item.attachments = [...input.attachments];
    if (input.replyToId) item.replyToId = input.replyToId;
    const delivered = new Promise<Message>((resolve, reject) => this.waiters.set(item.clientMsgId, { resolve, reject }));
    // The caller may never await it; a refusal is also reported through onFailed.
    delivered.catch(() => {});
    this.items.push(item);
    await this.persist();
    this.kick();
    return { item, delivered };
  }

  /** Tries to send what is pending (call when the connection becomes usable). */
  kick(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.kickAgain = true;
      return;
    }
    const wait = this.notBefore - Date.now();
    if (wait > 0) {
      if (!this.wake) this.wake = setTimeout(() => ((this.wake = undefined), this.kick()), wait);
      return;
    }
    void this.pump();
  }

  /** Stops sending (the items stay stored). */
  close(): void {
    this.closed = true;
    clearTimeout(this.wake);
  }

  private persist(): Promise<void> {
    const snapshot = this.items.map((i) => ({ ...i }));
    // Saves are chained so an older snapshot can never overwrite a newer one.
    this.saving = this.saving.then(() => this.storage.save(snapshot)).catch((err: unknown) => console.error('parley: could not save the outbox', err));
    return this.saving;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      await this.loaded;
      while (!this.closed && this.items.length > 0 && this.opts.canSend()) {
        const item = this.items[0]!;
        try {
          const message = await this.opts.send(item);
          await this.settle(item);
          this.waiters.get(item.clientMsgId)?.resolve(message);
          this.waiters.delete(item.clientMsgId);
          this.opts.onSent?.(item, message);
        } catch (e) {
          const err = e instanceof ParleyError ? e : new ParleyError(0, 'internal', e instanceof Error ? e.message : String(e));
          if (err.code === 'disconnected') break; // resent, same clientMsgId, when the connection is back
          item.attempts += 1;
          const givesUp = !isRetryable(err) || (err.code === 'internal' && item.attempts >= (this.opts.maxInternalAttempts ?? 5));
          if (givesUp) {
            await this.settle(item);
            this.waiters.get(item.clientMsgId)?.reject(err);
            this.waiters.delete(item.clientMsgId);
            this.opts.onFailed?.(item, err);
            continue;
          }
          await this.persist();
          const delay = err.code === 'rate_limited' ? (err.retryAfter ?? 1) * 1000 : (this.opts.retryDelayMs ?? defaultRetryDelay)(item.attempts);
          this.notBefore = Date.now() + delay;
          this.kickAgain = true; // the wait is scheduled by kick() below
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.kickAgain) {
      this.kickAgain = false;
      if (this.items.length > 0) this.kick();
    }
  }

  private async settle(item: OutboxItem): Promise<void> {
    this.items = this.items.filter((i) => i.clientMsgId !== item.clientMsgId);
    await this.persist();
  }
}

function defaultRetryDelay(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(attempt, 10));
}
