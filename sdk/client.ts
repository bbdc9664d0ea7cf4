/**
 * `ParleyClient`: the REST client, the realtime connection, the outbox and the store, put
 * together so that an application sees one consistent stream of events:
 *
 * - message events are applied by `rev` (a duplicate from a resume rescan is dropped, an
 *   older state never overwrites a newer one) and re-emitted only when they change
 *   something: a first sighting is always `message.new`, later ones `message.updated`,
 *   `message.deleted` or `reaction.updated`;
 * - a live message whose `seq` jumps past the last contiguous one makes the client fetch
 *   the gap over REST first, so `message.new` events of a conversation come in seq order;
 * - after every reconnect the connection resumes from its cursor; holes left by the replay
 *   (which is ordered by change time, not seq) are fetched once it is done;
 * - sends go through the outbox: stored first, sent when connected, re-sent with the same
 *   `clientMsgId` after a reconnect, removed on ack.
 */
import type { Conversation, Message, ServerEventMap } from './types.js';
import { ParleyError, RestClient, type AuthResult, type Tokens } from './rest.js';
import { Emitter, RealtimeConnection, type BackoffOptions, type ReadyPayload, type RealtimeEventMap, type WebSocketConstructor } from './realtime.js';
import { Outbox, type OutboxInput, type OutboxItem, type OutboxStorage, type QueuedSend } from './outbox.js';
import { ChatStore } from './store.js';

/**
 * Server events as the client re-emits them. Unlike the connection's, `resumed` here comes
 * after the replayed events and the holes they left have been applied to the store.
 */
export interface ClientEventMap extends RealtimeEventMap {
  /** The server acknowledged an outbox item. */
  'outbox.sent': { item: OutboxItem; message: Message };
  /** The server refused an outbox item for good; it was dropped. */
  'outbox.failed': { item: OutboxItem; error: ParleyError };
  /** Missing messages of a conversation were fetched (and emitted as `message.new`). */
  'gap.filled': { conversationId: string; afterSeq: number; count: number };
}

export interface ParleyClientOptions {
  /** `https://chat.example.com`. */
  baseUrl: string;
  /** Defaults to `baseUrl` with `ws(s)://` and `/v1/ws`. */
  wsUrl?: string;
  tokens?: Tokens | null;
  /** Persist tokens here (they rotate on every refresh). */
  onTokens?: (tokens: Tokens | null) => void;
  fetch?: typeof fetch;
  /** Needed where there is no global `WebSocket` (Node 20: pass `ws`'s `WebSocket`). */
  WebSocketImpl?: WebSocketConstructor;
  tokenTransport?: 'query' | 'protocol';
  outboxStorage?: OutboxStorage;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** A resume position saved from an earlier run (`client.realtime.cursor`). */
  cursor?: string;
}

type MessageEventType = 'message.new' | 'message.updated' | 'message.deleted' | 'reaction.updated';

/** Server and connection events passed on unchanged. */
const PASS_THROUGH = [
  'ready',
  'ack',
  'error',
  'pong',
  'resuming',
  'resume.failed',
  'sync.required',
  'typing',
  'presence',
  'read',
  'member.added',
  'member.removed',
  'member.updated',
  'message.pinned',
  'message.unpinned',
  'thread.updated',
  'call.ringing',
  'call.updated',
  'call.ended',
  'call.signal',
  'connection.state',
] as const satisfies readonly (keyof RealtimeEventMap)[];

export class ParleyClient extends Emitter<ClientEventMap> {
  readonly rest: RestClient;
  readonly realtime: RealtimeConnection;
  readonly outbox: Outbox;
  readonly store = new ChatStore();
  /** Work per conversation, one after another: gap fills hold later events back. */
  private readonly chains = new Map<string, Promise<void>>();
  private ended = false;

  constructor(opts: ParleyClientOptions) {
    super();
    this.rest = new RestClient({
      baseUrl: opts.baseUrl,
      tokens: opts.tokens ?? null,
      ...(opts.onTokens ? { onTokens: opts.onTokens } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      onSessionEnded: () => this.endSession('the session was revoked'),
    });
    this.realtime = new RealtimeConnection({
      url: opts.wsUrl ?? `${this.rest.baseUrl.replace(/^http/, 'ws')}/v1/ws`,
      getAccessToken: () => this.rest.freshAccessToken(),
      onConnectFailed: () => this.checkToken(),
      ...(opts.WebSocketImpl ? { WebSocketImpl: opts.WebSocketImpl } : {}),
      ...(opts.tokenTransport ? { tokenTransport: opts.tokenTransport } : {}),
      ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
      ...(opts.pongTimeoutMs !== undefined ? { pongTimeoutMs: opts.pongTimeoutMs } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.cursor ? { cursor: opts.cursor } : {}),
    });
    this.outbox = new Outbox({
      ...(opts.outboxStorage ? { storage: opts.outboxStorage } : {}),
      send: (item) => this.sendItem(item),
      canSend: () => this.realtime.connected,
      onSent: (item, message) => this.emit('outbox.sent', { item, message }),
      onFailed: (item, error) => this.emit('outbox.failed', { item, error }),
    });
    this.wire();
  }

  /** The signed-in user's id, once connected. */
  get userId(): string | undefined {
    return this.realtime.session?.user.id;
  }

  // --- session ---------------------------------------------------------------------------

  async signup(body: { email: string; username: string; password: string; displayName?: string }): Promise<AuthResult> {
    const r = await this.rest.signup(body);
    this.ended = false;
    return r;
  }

  async login(login: string, password: string): Promise<AuthResult> {
    const r = await this.rest.login(login, password);
    this.ended = false;
    return r;
  }

  async logout(): Promise<void> {
    this.disconnect();
    await this.rest.logout();
  }

  /** Connects (and stays connected, reconnecting as needed); resolves on `ready`. */
  async connect(): Promise<ReadyPayload> {
    if (!this.rest.accessToken) throw new ParleyError(401, 'unauthorized', 'Not logged in: call login() or pass tokens.');
    await this.outbox.ready();
    return this.realtime.start();
  }

  /** Closes the connection; `connect()` later resumes where it left off. */
  disconnect(): void {
    this.realtime.stop();
  }

  /** Resolves when every event received so far has been applied (gap fills included). */
  async settled(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  // --- actions ---------------------------------------------------------------------------

  /**
   * Queues a message in the outbox (stored before this resolves) and sends it when
   * connected. `delivered` settles with the stored message on ack.
   */
  sendMessage(conversationId: string, input: OutboxInput): Promise<QueuedSend> {
    return this.outbox.enqueue(conversationId, input);
  }

  /** Moves the read position forward (over the socket when connected, else REST). */
  async markRead(conversationId: string, seq: number): Promise<{ lastReadSeq: number; unreadCount: number }> {
    let r: { lastReadSeq: number; unreadCount: number };
    if (this.realtime.connected) {
      const ack = await this.realtime.request('read', { conversationId, seq });
      r = { lastReadSeq: ack.lastReadSeq ?? seq, unreadCount: ack.unreadCount ?? 0 };
    } else {
      r = await this.rest.markRead(conversationId, seq);
    }
    const c = this.store.conversation(conversationId);
    if (c) this.store.upsertConversation({ ...c, lastReadSeq: Math.max(c.lastReadSeq ?? 0, r.lastReadSeq), unreadCount: r.unreadCount });
    return r;
  }

  /** Tells the others you are typing (dropped when offline: it is ephemeral). */
  typing(conversationId: string): void {
    this.realtime.send('typing', { conversationId });
  }

  /**
   * Sends a WebRTC offer/answer/ICE candidate to another participant of a p2p call (relayed
   * by the server only between participants). False when not connected: the caller retries
   * or renegotiates after the reconnect.
   */
  callSignal(callId: string, to: string, data: unknown): boolean {
    return this.realtime.send('call.signal', { callId, to, data });
  }

  /** Loads every conversation of the caller into the store; their positions start at `lastSeq`. */
  async loadConversations(): Promise<Conversation[]> {
    const out: Conversation[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.rest.listConversations({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const c of page.conversations) {
        out.push(this.store.upsertConversation(c));
        this.store.setBaseline(c.id, c.lastSeq);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  /**
   * Loads a page of history into the store (the newest by default, or older than `before`).
   * Messages are applied by rev, so this is safe at any time.
   */
  async loadMessages(conversationId: string, opts: { before?: number; limit?: number } = {}): Promise<{ messages: Message[]; hasMore: boolean }> {
    const page = await this.rest.listMessages(conversationId, opts);
    await this.run(conversationId, () => {
      const first = page.messages[0];
      if (opts.before === undefined) this.store.setBaseline(conversationId, first ? first.seq - 1 : 0);
      for (const m of page.messages) this.applyAndEmit('message.new', m);
    });
    return page;
  }

  // --- internals -------------------------------------------------------------------------

  private wire(): void {
    const rt = this.realtime;
    for (const type of PASS_THROUGH) rt.on(type, (p) => this.emit(type, p));
    const replaying = () => rt.resuming;
    rt.on('message.new', (e) => this.onMessage('message.new', e.message, replaying()));
    rt.on('message.updated', (e) => this.onMessage('message.updated', e.message, replaying()));
    rt.on('reaction.updated', (e) => this.onMessage('reaction.updated', e.message, replaying()));
    rt.on('message.deleted', (e) => this.onDeleted(e, replaying()));
    rt.on('conversation.updated', (e) => {
      const conversation = this.store.upsertConversation(e.conversation);
      this.store.setBaseline(conversation.id, conversation.lastSeq);
      this.emit('conversation.updated', { conversation });
    });
    rt.on('member.removed', (e) => {
      if (e.userId === this.userId) this.store.removeConversation(e.conversationId);
    });
    rt.on('read', (e) => {
      const c = this.store.conversation(e.conversationId);
      if (c && e.userId === this.userId && e.seq > (c.lastReadSeq ?? 0)) this.store.upsertConversation({ ...c, lastReadSeq: e.seq });
    });
    rt.on('ready', () => this.outbox.kick());
    rt.on('resumed', (e) => {
      // A replay comes in change-time order and may leave holes: fetch them now.
      for (const id of this.store.trackedConversationIds()) if (this.store.hasHole(id)) void this.run(id, () => this.fillGap(id));
      void this.settled().then(() => this.emit('resumed', e));
    });
    rt.on('resume.failed', () => {
      // Without a replay we cannot know about edits, but we can still fetch new messages.
      for (const id of this.store.trackedConversationIds()) void this.run(id, () => this.fillGap(id));
    });
    rt.on('session.ended', (e) => this.endSession(e.reason));
  }

  /** Runs `fn` after everything queued for this conversation. */
  private run(conversationId: string, fn: () => void | Promise<void>): Promise<void> {
    const prev = this.chains.get(conversationId) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => {
      // A failed fetch leaves the hole; the next event or resume tries again.
      if (!(err instanceof ParleyError && err.code === 'not_found')) console.warn('parley: could not apply an event', err);
    });
    this.chains.set(conversationId, next);
    void next.then(() => {
      if (this.chains.get(conversationId) === next) this.chains.delete(conversationId);
    });
    return next;
  }

  private onMessage(type: MessageEventType, message: Message, replay: boolean): void {
    const id = message.conversationId;
    void this.run(id, async () => {
      // During a replay events are out of seq order by design; holes are filled after it.
      if (!replay && this.store.isGap(id, message.seq)) await this.fillGap(id);
      if (this.store.contiguousSeq(id) === undefined && type === 'message.new') this.store.setBaseline(id, message.seq - 1);
      this.applyAndEmit(type, message);
    });
  }

  private onDeleted(e: ServerEventMap['message.deleted'], replay: boolean): void {
    if (e.message) return this.onMessage('message.deleted', e.message, replay);
    // Without the tombstone (and its rev) we cannot apply it safely: fetch the message.
    void this.run(e.conversationId, async () => {
      const page = await this.rest.listMessages(e.conversationId, { after: e.seq - 1, limit: 1 });
      for (const m of page.messages) this.applyAndEmit('message.deleted', m);
    });
  }

  /** Fetches every message after the contiguous position, in seq order, and applies them. */
  private async fillGap(conversationId: string): Promise<void> {
    const start = this.store.contiguousSeq(conversationId);
    if (start === undefined) return;
    let after = start;
    let count = 0;
    for (;;) {
      const page = await this.rest.listMessages(conversationId, { after, limit: 200 });
      for (const m of page.messages) if (this.applyAndEmit('message.new', m)) count += 1;
      const last = page.messages[page.messages.length - 1];
      if (!page.hasMore || !last) break;
      after = last.seq;
    }
    this.emit('gap.filled', { conversationId, afterSeq: start, count });
  }

  /** Applies a message by rev; emits what changed. Returns false for a stale duplicate. */
  private applyAndEmit(type: MessageEventType, m: Message): boolean {
    const r = this.store.apply(m);
    if (r === 'stale') return false;
    if (r === 'new') this.emit('message.new', { message: m });
    else if (m.deletedAt) this.emit('message.deleted', { conversationId: m.conversationId, messageId: m.id, seq: m.seq, message: m });
    else if (type === 'reaction.updated') this.emit('reaction.updated', { message: m });
    else this.emit('message.updated', { message: m });
    return true;
  }

  private async sendItem(item: OutboxItem): Promise<Message> {
    const ack = await this.realtime.request('message.send', {
      conversationId: item.conversationId,
      clientMsgId: item.clientMsgId,
      ...(item.text !== undefined && item.text !== null ? { text: item.text } : {}),
      ...(item.attachments?.length ? { attachments: item.attachments } : {}),
      ...(item.replyToId ? { replyToId: item.replyToId } : {}),
    });
    if (!ack.message) throw new ParleyError(0, 'internal', 'The ack carried no message.');
    this.onMessage('message.new', ack.message, false);
    return ack.message;
  }

  /** After a failed connection attempt: a 401 there looks like any failure, so ask REST. */
  private async checkToken(): Promise<void> {
    if (!this.rest.refreshToken) return;
    // A 401 here makes the REST client refresh; a refused refresh ends the session.
    await this.rest.me();
  }

  private endSession(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.realtime.stop();
    if (this.rest.refreshToken) this.rest.setTokens(null);
    this.emit('session.ended', { reason });
  }
}
