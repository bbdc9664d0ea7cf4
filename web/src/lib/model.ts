/**
 * The web client's state, built on the SDK's `ParleyClient`: conversations (most recent
 * first, with the server's unread and mention counts), messages per conversation (from the
 * SDK's store, applied by rev, gap-free), the outbox's pending sends, members and their read
 * positions, presence, typing, users by id, and the connection's state. React reads it
 * through `useChat()` (useSyncExternalStore); every change replaces the snapshot.
 */
import {
  ParleyClient,
  ParleyError,
  type ConnectionState,
  type Conversation,
  type LinkPreview,
  type Me,
  type Member,
  type Message,
  type OutboxItem,
  type User,
} from '../../../sdk/index.js';
import { uploadMedia, type UploadProgress } from '../../../sdk/upload.js';
import { OfflineCache } from './cache.js';
import { humanError } from './errors.js';
import { IdbOutboxStorage } from './outbox-storage.js';
import { saveSession, type StoredSession } from './session.js';

export type Connection = 'connecting' | 'online' | 'reconnecting' | 'offline';

export interface HistoryState {
  loaded: boolean;
  loading: boolean;
  hasMore: boolean;
}

export interface Upload {
  id: string;
  conversationId: string;
  filename: string;
  loaded: number;
  total: number;
  /** Set once the upload completed. */
  mediaId?: string;
  previewUrl?: string;
  error?: string;
}

export interface FailedSend {
  item: OutboxItem;
  error: string;
}

export interface ChatState {
  me: Me;
  connection: Connection;
  conversations: Conversation[];
  users: Record<string, User>;
  presence: Record<string, 'online' | 'offline'>;
  /** conversationId → ids of users typing now (not me). */
  typing: Record<string, string[]>;
  members: Record<string, Member[]>;
  messages: Record<string, Message[]>;
  history: Record<string, HistoryState>;
  pending: readonly OutboxItem[];
  failed: FailedSend[];
  uploads: Upload[];
  /** The server has the media routes (attachments, avatars). */
  mediaEnabled: boolean;
  /** Optional server features, from its OpenAPI document. */
  features: { linkPreviews: boolean; blocking: boolean };
  /** messageId → link previews attached by the server. */
  previews: Record<string, LinkPreview[]>;
  /** The conversation list came from the server (not only from the offline cache). */
  conversationsLoaded: boolean;
  /** A one-line notice for the user (errors of actions). */
  notice?: string;
}

const TYPING_SHOWN_MS = 6000;
const TYPING_SEND_EVERY_MS = 3000;
const PAGE = 50;

/** Most recent activity first. */
function activityOf(c: Conversation): string {
  return c.lastMessage?.createdAt ?? c.updatedAt ?? c.createdAt;
}

const errorText = humanError;

/** Per-conversation notification settings (GET/PUT /v1/conversations/:id/notifications). */
export interface NotificationSettings {
  level: 'all' | 'mentions' | 'none';
  mutedUntil: string | null;
}

const URL_IN_TEXT = /https?:\/\//i;

export class ChatModel {
  readonly client: ParleyClient;
  private readonly cache: OfflineCache;
  /** Messages from the offline cache, shown until the server's history arrives. */
  private readonly cached = new Map<string, Message[]>();
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;
  private readonly userFetches = new Map<string, Promise<void>>();
  private readonly convFetches = new Map<string, Promise<void>>();
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly lastTypingSent = new Map<string, number>();
  /** Highest seq per conversation known when it was listed: messages above it are new. */
  private readonly knownSeq = new Map<string, number>();
  private readonly offs: (() => void)[] = [];
  private activeId: string | undefined;
  private stopped = false;
  /** Called for each new message from someone else (notifications). */
  onIncoming?: (m: Message, conversation: Conversation | undefined) => void;
  /** Called when the session ends (revoked elsewhere, refresh refused). */
  onSessionEnded?: (reason: string) => void;

  constructor(session: StoredSession, baseUrl: string) {
    let current = session;
    this.client = new ParleyClient({
      baseUrl,
      tokens: session.tokens,
      onTokens: (tokens) => {
        if (tokens) saveSession((current = { ...current, tokens }));
      },
      outboxStorage: new IdbOutboxStorage(session.user.id),
    });
    this.cache = new OfflineCache(session.user.id);
    this.state = {
      me: session.user,
      connection: 'connecting',
      conversations: [],
      users: { [session.user.id]: session.user },
      presence: {},
      typing: {},
      members: {},
      messages: {},
      history: {},
      pending: [],
      failed: [],
      uploads: [],
      mediaEnabled: false,
      features: { linkPreviews: false, blocking: false },
      previews: {},
      conversationsLoaded: false,
    };
    this.wire();
  }

  // --- store plumbing --------------------------------------------------------------------

  getState = (): ChatState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch };
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const fn of [...this.listeners]) fn();
    });
  }

  private refreshConversations(): void {
    const list = this.client.store.conversations().sort((a, b) => (activityOf(a) < activityOf(b) ? 1 : activityOf(a) > activityOf(b) ? -1 : 0));
    this.set({ conversations: list });
    this.cache.saveConversations(list);
  }

  private refreshMessages(conversationId: string): void {
    let messages = this.client.store.messages(conversationId);
    // Names for every sender and system message (removed members are not in the members list).
    const ids = new Set<string>();
    for (const m of messages) {
      if (m.senderId && !this.state.users[m.senderId]) ids.add(m.senderId);
      for (const u of m.system?.userIds ?? []) if (!this.state.users[u]) ids.add(u);
      if (m.system?.actorId && !this.state.users[m.system.actorId]) ids.add(m.system.actorId);
    }
    if (ids.size) void this.ensureUsers([...ids]);
    this.queuePreviews(messages);
    const fromServer = this.state.history[conversationId]?.loaded ?? false;
    if (fromServer) this.cache.saveMessages(conversationId, messages);
    else if (messages.length === 0) messages = this.cached.get(conversationId) ?? [];
    this.set({ messages: { ...this.state.messages, [conversationId]: messages } });
  }

  private refreshPending(): void {
    this.set({ pending: [...this.client.outbox.pending()] });
  }

  notice(text: string | undefined): void {
    this.set(text === undefined ? { notice: undefined } : { notice: text });
  }

  /** Runs an action; a failure becomes a notice instead of an unhandled rejection. */
  async attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.notice(`${what} failed: ${errorText(err)}`);
      return undefined;
    }
  }

  // --- lifecycle -------------------------------------------------------------------------

  /** Connects and loads the conversations; keeps going offline (the SDK reconnects). */
  async start(): Promise<void> {
    void this.detectFeatures();
    void this.client.outbox.ready().then(() => this.refreshPending());
    // What was shown last time, until the server answers (or while offline): names too.
    const cachedUsers = await this.cache.users();
    this.set({ users: { ...cachedUsers, ...this.state.users } });
    for (const c of await this.cache.conversations()) if (!this.client.store.conversation(c.id)) this.client.store.upsertConversation(c);
    this.refreshConversations();
    if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      this.set({ connection: 'offline' });
      return;
    }
    await this.connectAndLoad();
  }

  private async connectAndLoad(): Promise<void> {
    try {
      await this.client.connect();
    } catch {
      return; // stopped or session ended: handled by the events
    }
    await this.loadConversations();
  }

  private async loadConversations(): Promise<void> {
    try {
      const list = await this.client.loadConversations();
      const ids = new Set(list.map((c) => c.id));
      // Cached conversations the user is no longer in.
      for (const c of this.client.store.conversations()) if (!ids.has(c.id)) this.client.store.removeConversation(c.id);
      for (const c of list) this.knownSeq.set(c.id, Math.max(this.knownSeq.get(c.id) ?? 0, c.lastSeq));
      this.refreshConversations();
      this.set({ conversationsLoaded: true });
      const peers = list.map((c) => c.peerId).filter((x): x is string => !!x);
      void this.ensureUsers(peers);
      void this.loadPresence(peers);
      // Senders of the last messages, for the previews.
      void this.ensureUsers(list.map((c) => c.lastMessage?.senderId).filter((x): x is string => !!x));
    } catch (err) {
      if (!(err instanceof ParleyError && err.status === 0)) this.notice(`Could not load conversations: ${errorText(err)}`);
    }
  }

  /** The browser says the network is gone or back: act now rather than at the next ping. */
  setNetwork(online: boolean): void {
    if (this.stopped) return;
    if (!online) {
      // Chromium keeps an open WebSocket through a network change; close it ourselves and
      // resume from the cursor when the network is back.
      this.client.disconnect();
      this.set({ connection: 'offline' });
    } else if (!this.client.realtime.connected) {
      // Back online: try now instead of waiting for the backoff timer.
      this.client.disconnect();
      this.set({ connection: 'connecting' });
      void this.connectAndLoad();
    }
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    for (const t of this.typingTimers.values()) clearTimeout(t);
    this.client.disconnect();
    this.client.outbox.close();
    this.listeners.clear();
  }

  async logout(): Promise<void> {
    const userId = this.state.me.id;
    this.stop();
    try {
      await this.client.rest.logout();
    } catch {
      /* the local session is dropped anyway */
    }
    await IdbOutboxStorage.clear(userId);
    await this.cache.clear();
    saveSession(null);
  }

  private featuresKnown = false;

  /** Reads the server's routes once it is reachable (retried on every `ready` until then). */
  private async detectFeatures(): Promise<void> {
    if (this.featuresKnown) return;
    try {
      const res = await fetch(new URL('/openapi.json', this.client.rest.baseUrl));
      if (!res.ok) return;
      const doc = (await res.json()) as { paths?: Record<string, unknown> };
      const paths = Object.keys(doc.paths ?? {});
      this.featuresKnown = true;
      this.set({
        mediaEnabled: paths.includes('/v1/media/uploads'),
        features: {
          linkPreviews: paths.includes('/v1/conversations/{id}/link-previews'),
          // Blocking is built elsewhere; the profile card shows "Block" once the server has it.
          blocking: paths.some((p) => /\/blocks?(\/|$)/.test(p)),
        },
      });
      for (const id of Object.keys(this.state.messages)) this.queuePreviews(this.state.messages[id] ?? []);
    } catch {
      /* offline: asked again when the connection is back */
    }
  }

  private setUsers(users: Record<string, User>): void {
    this.set({ users });
    this.cache.saveUsers(users);
  }

  // --- link previews ---------------------------------------------------------------------

  private readonly previewAsked = new Set<string>();
  private readonly previewQueue = new Map<string, Set<string>>();
  private previewTimer: ReturnType<typeof setTimeout> | undefined;

  /** Asks (batched) for the previews of messages with links not asked about yet. */
  private queuePreviews(messages: readonly Message[]): void {
    if (!this.state.features.linkPreviews) return;
    for (const m of messages) {
      if (m.deletedAt || !m.text || !URL_IN_TEXT.test(m.text) || this.previewAsked.has(m.id)) continue;
      this.previewAsked.add(m.id);
      let set = this.previewQueue.get(m.conversationId);
      if (!set) this.previewQueue.set(m.conversationId, (set = new Set()));
      set.add(m.id);
    }
    if (this.previewQueue.size === 0 || this.previewTimer) return;
    this.previewTimer = setTimeout(() => {
      this.previewTimer = undefined;
      const batches = [...this.previewQueue];
      this.previewQueue.clear();
      for (const [conversationId, ids] of batches) {
        const all = [...ids];
        for (let i = 0; i < all.length; i += 100) {
          const chunk = all.slice(i, i + 100);
          void this.client.rest
            .request<{ previews: Record<string, LinkPreview[]> }>('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/link-previews?messageIds=${chunk.join(',')}`)
            .then((r) => this.set({ previews: { ...this.state.previews, ...r.previews } }))
            .catch(() => {
              for (const id of chunk) this.previewAsked.delete(id);
            });
        }
      }
    }, 150);
  }

  // --- notification settings (built against GET/PUT /v1/conversations/:id/notifications) --

  /** The settings, or null when the server has no such route (the UI then hides itself). */
  async notificationSettings(conversationId: string): Promise<NotificationSettings | null> {
    try {
      const r = await this.client.rest.request<Partial<NotificationSettings>>('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/notifications`);
      const level = r.level === 'mentions' || r.level === 'none' ? r.level : 'all';
      return { level, mutedUntil: typeof r.mutedUntil === 'string' ? r.mutedUntil : null };
    } catch {
      return null;
    }
  }

  async saveNotificationSettings(conversationId: string, settings: NotificationSettings): Promise<NotificationSettings | undefined> {
    return this.attempt('Saving the notification settings', async () => {
      const r = await this.client.rest.request<Partial<NotificationSettings>>('PUT', `/v1/conversations/${encodeURIComponent(conversationId)}/notifications`, { body: settings });
      return { level: r.level ?? settings.level, mutedUntil: r.mutedUntil === undefined ? settings.mutedUntil : r.mutedUntil } as NotificationSettings;
    });
  }

  /** My profile again (another session of mine may have changed the name or avatar). */
  async refreshMe(): Promise<void> {
    try {
      const me = await this.client.rest.request<Me>('GET', '/v1/me');
      this.set({ me });
      this.setUsers({ ...this.state.users, [me.id]: me });
    } catch {
      /* offline: kept as is */
    }
  }

  // --- events ----------------------------------------------------------------------------

  private wire(): void {
    const c = this.client;
    const on = <T>(off: () => void) => (this.offs.push(off), off as T);
    on(
      c.on('connection.state', ({ state }) => {
        if (this.state.connection === 'offline' && state !== 'open') return;
        const map: Record<ConnectionState, Connection> = { idle: 'connecting', connecting: 'connecting', open: 'online', reconnecting: 'reconnecting', closed: 'offline' };
        this.set({ connection: map[state] });
      }),
    );
    on(
      c.on('ready', ({ user }) => {
        this.set({ me: user });
        this.setUsers({ ...this.state.users, [user.id]: user });
        // Features that could not be read while offline (the attach button, previews).
        void this.detectFeatures();
        this.refreshPending();
        // What failed to load while offline.
        const id = this.activeId;
        if (id && !this.state.history[id]?.loaded && !this.state.history[id]?.loading) void this.loadNewest(id);
        if (id) void this.loadMembers(id);
      }),
    );
    on(c.on('message.new', ({ message }) => this.onMessage(message, true)));
    on(c.on('message.updated', ({ message }) => this.onMessage(message, false)));
    on(c.on('message.deleted', ({ message, conversationId }) => (message ? this.onMessage(message, false) : this.refreshMessages(conversationId))));
    on(c.on('reaction.updated', ({ message }) => this.onMessage(message, false)));
    on(
      c.on('conversation.updated', ({ conversation }) => {
        if (!this.knownSeq.has(conversation.id)) this.knownSeq.set(conversation.id, conversation.lastSeq);
        if (conversation.peerId) void this.ensureUsers([conversation.peerId]);
        this.refreshConversations();
      }),
    );
    on(
      c.on('member.added', ({ conversationId, userId }) => {
        void this.fetchConversation(conversationId);
        if (this.state.members[conversationId]) void this.loadMembers(conversationId);
        void this.ensureUsers([userId]);
      }),
    );
    on(
      c.on('member.removed', ({ conversationId, userId }) => {
        if (userId === this.state.me.id) {
          this.refreshConversations();
          return;
        }
        const members = this.state.members[conversationId];
        if (members) this.set({ members: { ...this.state.members, [conversationId]: members.filter((m) => m.userId !== userId) } });
        void this.fetchConversation(conversationId);
      }),
    );
    on(
      // Read positions for "Seen by": from `read` frames, and from every `message.new`
      // (its sender's position after sending, `senderReadSeq`, which the SDK emits as a
      // `read` event), so a member who answers counts as having seen without another frame.
      c.on('read', ({ conversationId, userId, seq }) => {
        const members = this.state.members[conversationId];
        if (members) {
          this.set({
            members: {
              ...this.state.members,
              [conversationId]: members.map((m) => (m.userId === userId && seq > m.lastReadSeq ? { ...m, lastReadSeq: seq } : m)),
            },
          });
        }
        if (userId === this.state.me.id) {
          // Read on another device: the counts follow.
          const conv = c.store.conversation(conversationId);
          if (conv && seq >= conv.lastSeq) c.store.upsertConversation({ ...conv, unreadCount: 0, unreadMentionCount: 0 });
          this.refreshConversations();
        }
      }),
    );
    on(
      c.on('typing', ({ conversationId, userId }) => {
        if (userId === this.state.me.id) return;
        this.setTyping(conversationId, userId, true);
        void this.ensureUsers([userId]);
      }),
    );
    on(
      c.on('presence', ({ userId, status }) => {
        this.set({ presence: { ...this.state.presence, [userId]: status } });
      }),
    );
    on(c.on('outbox.sent', () => this.refreshPending()));
    on(
      c.on('link.previews', ({ messageId, previews }) => {
        this.previewAsked.add(messageId);
        this.set({ previews: { ...this.state.previews, [messageId]: previews } });
      }),
    );
    on(
      c.on('outbox.failed', ({ item, error }) => {
        this.set({ failed: [...this.state.failed, { item, error: error.message }] });
        this.refreshPending();
      }),
    );
    on(
      c.on('resumed', () => {
        // Presence changes while away were not replayed.
        const peers = this.state.conversations.map((x) => x.peerId).filter((x): x is string => !!x);
        void this.loadPresence(peers);
        if (this.activeId) void this.loadMembers(this.activeId);
      }),
    );
    on(
      c.on('session.ended', ({ reason }) => {
        this.stop();
        saveSession(null);
        this.onSessionEnded?.(reason);
      }),
    );
  }

  private onMessage(m: Message, isNew: boolean): void {
    const conv = this.client.store.conversation(m.conversationId);
    if (!conv) void this.fetchConversation(m.conversationId);
    const known = this.knownSeq.get(m.conversationId) ?? 0;
    if (isNew && m.seq > known) {
      this.knownSeq.set(m.conversationId, m.seq);
      const mine = m.senderId === this.state.me.id;
      if (m.senderId) this.setTyping(m.conversationId, m.senderId, false);
      if (conv && !mine && m.kind !== 'system' && m.seq > (conv.lastReadSeq ?? 0)) {
        if (this.isReading(m.conversationId)) {
          void this.markRead(m.conversationId);
        } else if (m.threadRootId) {
          // Whether a thread reply is unread depends on following the thread: the server counts.
          void this.fetchConversation(m.conversationId);
        } else {
          const mentioned = m.mentions.includes(this.state.me.id);
          this.client.store.upsertConversation({
            ...this.client.store.conversation(m.conversationId)!,
            unreadCount: conv.unreadCount + 1,
            unreadMentionCount: conv.unreadMentionCount + (mentioned ? 1 : 0),
          });
        }
      }
      if (!mine && m.kind !== 'system') this.onIncoming?.(m, this.client.store.conversation(m.conversationId));
      if (m.kind === 'system' && this.state.members[m.conversationId]) void this.loadMembers(m.conversationId);
    }
    void this.ensureUsers([m.senderId, ...(m.system?.userIds ?? []), ...(m.system?.actorId ? [m.system.actorId] : [])]);
    if (isNew) this.queuePreviews([m]);
    this.refreshMessages(m.conversationId);
    this.refreshConversations();
  }

  private setTyping(conversationId: string, userId: string, on: boolean): void {
    const key = `${conversationId} ${userId}`;
    clearTimeout(this.typingTimers.get(key));
    this.typingTimers.delete(key);
    const current = this.state.typing[conversationId] ?? [];
    const next = current.filter((u) => u !== userId);
    if (on) {
      next.push(userId);
      this.typingTimers.set(
        key,
        setTimeout(() => this.setTyping(conversationId, userId, false), TYPING_SHOWN_MS),
      );
    }
    if (next.length !== current.length || on !== current.includes(userId)) this.set({ typing: { ...this.state.typing, [conversationId]: next } });
  }

  // --- lookups ---------------------------------------------------------------------------

  /** Fetches users not known yet (by id), once each. */
  async ensureUsers(ids: readonly string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => id && !this.state.users[id] && !this.userFetches.has(id));
    await Promise.all(
      missing.map((id) => {
        const p = this.client.rest
          .getUser(id)
          .then((u) => this.setUsers({ ...this.state.users, [u.id]: u }))
          .catch(() => {})
          .finally(() => this.userFetches.delete(id));
        this.userFetches.set(id, p);
        return p;
      }),
    );
  }

  private async fetchConversation(id: string): Promise<void> {
    const running = this.convFetches.get(id);
    if (running) return running;
    const p = (async () => {
      try {
        const fetched = await this.client.rest.getConversation(id);
        // Messages that reached this tab while the request was on its way are newer than the
        // server's count (and local increments made meanwhile are replaced): count them as
        // onMessage does. Before this, a burst into a new conversation left its badge short.
        const me = this.state.me.id;
        const later = this.client.store
          .messages(id)
          .filter((m) => m.seq > fetched.lastSeq && m.seq > (fetched.lastReadSeq ?? 0) && m.senderId !== me && m.kind !== 'system' && !m.threadRootId && !m.deletedAt);
        const conv = later.length
          ? { ...fetched, unreadCount: fetched.unreadCount + later.length, unreadMentionCount: fetched.unreadMentionCount + later.filter((m) => m.mentions.includes(me)).length }
          : fetched;
        this.client.store.upsertConversation(conv);
        this.client.store.setBaseline(conv.id, conv.lastSeq);
        if (!this.knownSeq.has(conv.id)) this.knownSeq.set(conv.id, conv.lastSeq);
        if (conv.peerId) {
          void this.ensureUsers([conv.peerId]);
          void this.loadPresence([conv.peerId]);
        }
        this.refreshConversations();
      } catch {
        /* not a member (any more) */
      } finally {
        this.convFetches.delete(id);
      }
    })();
    this.convFetches.set(id, p);
    return p;
  }

  private async loadPresence(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    try {
      const { presence } = await this.client.rest.presence([...new Set(userIds)]);
      const next = { ...this.state.presence };
      for (const [id, p] of Object.entries(presence)) next[id] = p.status;
      this.set({ presence: next });
    } catch {
      /* shown as unknown */
    }
  }

  displayName(userId: string | undefined): string {
    if (!userId) return 'Someone';
    const u = this.state.users[userId];
    return u ? u.displayName || u.username : 'Someone';
  }

  titleOf(c: Conversation): string {
    if (c.type === 'direct') return c.peerId ? this.displayName(c.peerId) : 'Direct conversation';
    return c.title || 'Untitled group';
  }

  // --- the open conversation -------------------------------------------------------------

  /** Whether the user is looking at this conversation right now. */
  isReading(conversationId: string): boolean {
    return this.activeId === conversationId && typeof document !== 'undefined' && document.visibilityState === 'visible';
  }

  setActive(conversationId: string | undefined): void {
    this.activeId = conversationId;
    if (!conversationId) return;
    if (!this.client.store.conversation(conversationId)) void this.fetchConversation(conversationId);
    if (!this.state.history[conversationId]?.loaded) {
      if (!this.cached.has(conversationId)) {
        void this.cache.messages(conversationId).then((ms) => {
          if (ms.length === 0 || this.state.history[conversationId]?.loaded) return;
          this.cached.set(conversationId, ms);
          this.refreshMessages(conversationId);
        });
      }
      void this.loadNewest(conversationId);
    }
    void this.loadMembers(conversationId);
    void this.markRead(conversationId);
  }

  private setHistory(conversationId: string, h: Partial<HistoryState>): void {
    const prev = this.state.history[conversationId] ?? { loaded: false, loading: false, hasMore: false };
    this.set({ history: { ...this.state.history, [conversationId]: { ...prev, ...h } } });
  }

  private async loadNewest(conversationId: string): Promise<void> {
    this.setHistory(conversationId, { loading: true });
    try {
      const page = await this.client.loadMessages(conversationId, { limit: PAGE });
      this.setHistory(conversationId, { loaded: true, loading: false, hasMore: page.hasMore });
      this.refreshMessages(conversationId);
      void this.markRead(conversationId);
    } catch (err) {
      this.setHistory(conversationId, { loading: false });
      if (!(err instanceof ParleyError && err.status === 0)) this.notice(`Could not load messages: ${errorText(err)}`);
    }
  }

  /** Loads the page before the oldest message held. */
  async loadOlder(conversationId: string): Promise<void> {
    const h = this.state.history[conversationId];
    if (!h?.loaded || h.loading || !h.hasMore) return;
    const first = this.state.messages[conversationId]?.[0];
    if (!first) return;
    this.setHistory(conversationId, { loading: true });
    try {
      const page = await this.client.loadMessages(conversationId, { before: first.seq, limit: PAGE });
      this.setHistory(conversationId, { loading: false, hasMore: page.hasMore });
      this.refreshMessages(conversationId);
    } catch (err) {
      this.setHistory(conversationId, { loading: false });
      this.notice(`Could not load older messages: ${errorText(err)}`);
    }
  }

  async loadMembers(conversationId: string): Promise<void> {
    try {
      const { members } = await this.client.rest.listMembers(conversationId);
      this.set({ members: { ...this.state.members, [conversationId]: members } });
      void this.ensureUsers(members.map((m) => m.userId));
    } catch {
      /* offline, or no longer a member */
    }
  }

  /** Moves my read position to the newest message, when there is something unread. */
  async markRead(conversationId: string): Promise<void> {
    const conv = this.client.store.conversation(conversationId);
    if (!conv || !this.isReading(conversationId)) return;
    const last = Math.max(conv.lastSeq, this.state.messages[conversationId]?.at(-1)?.seq ?? 0);
    if (last <= (conv.lastReadSeq ?? 0) && conv.unreadCount === 0) return;
    // Shown as read at once; the server's answer confirms.
    this.client.store.upsertConversation({ ...conv, lastReadSeq: Math.max(conv.lastReadSeq ?? 0, last), unreadCount: 0, unreadMentionCount: 0 });
    this.refreshConversations();
    try {
      await this.client.markRead(conversationId, last);
      this.refreshConversations();
    } catch {
      /* retried next time something arrives or the view opens */
    }
  }

  // --- actions ---------------------------------------------------------------------------

  async send(conversationId: string, text: string, opts: { replyToId?: string; attachments?: string[] } = {}): Promise<void> {
    const body = text.trim();
    if (!body && !opts.attachments?.length) return;
    await this.client.sendMessage(conversationId, {
      ...(body ? { text: body } : {}),
      ...(opts.replyToId ? { replyToId: opts.replyToId } : {}),
      ...(opts.attachments?.length ? { attachments: opts.attachments } : {}),
    });
    this.lastTypingSent.delete(conversationId);
    this.refreshPending();
  }

  dismissFailed(clientMsgId: string): void {
    this.set({ failed: this.state.failed.filter((f) => f.item.clientMsgId !== clientMsgId) });
  }

  /** Re-queues a refused message (as a new message). */
  async retryFailed(f: FailedSend): Promise<void> {
    this.dismissFailed(f.item.clientMsgId);
    await this.send(f.item.conversationId, f.item.text ?? '', {
      ...(f.item.replyToId ? { replyToId: f.item.replyToId } : {}),
      ...(f.item.attachments ? { attachments: f.item.attachments } : {}),
    });
  }

  /** Says "typing" at most every few seconds while the user types. */
  typing(conversationId: string): void {
    const now = Date.now();
    if (now - (this.lastTypingSent.get(conversationId) ?? 0) < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent.set(conversationId, now);
    this.client.typing(conversationId);
  }

  private applyReturned(m: Message): void {
    this.client.store.apply(m);
    this.refreshMessages(m.conversationId);
  }

  async edit(m: Message, text: string): Promise<void> {
    const updated = await this.attempt('Editing', () => this.client.rest.editMessage(m.conversationId, m.id, text));
    if (updated) this.applyReturned(updated);
  }

  async remove(m: Message): Promise<void> {
    await this.attempt('Deleting', () => this.client.rest.deleteMessage(m.conversationId, m.id));
  }

  async toggleReaction(m: Message, emoji: string): Promise<void> {
    const mine = m.reactions[emoji]?.includes(this.state.me.id);
    const updated = await this.attempt('Reacting', () =>
      mine ? this.client.rest.removeReaction(m.conversationId, m.id, emoji) : this.client.rest.addReaction(m.conversationId, m.id, emoji),
    );
    if (updated) this.applyReturned(updated);
  }

  async searchUsers(query: string): Promise<User[]> {
    const q = query.trim();
    if (!q) return [];
    const { users } = await this.client.rest.searchUsers(q, 10);
    this.setUsers({ ...this.state.users, ...Object.fromEntries(users.map((u) => [u.id, u])) });
    return users.filter((u) => u.id !== this.state.me.id);
  }

  async openDirect(userId: string): Promise<Conversation> {
    const conv = await this.client.rest.createDirect(userId);
    this.adopt(conv);
    return conv;
  }

  async createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    const conv = await this.client.rest.createGroup({ title, memberIds });
    this.adopt(conv);
    return conv;
  }

  private adopt(conv: Conversation): void {
    this.client.store.upsertConversation(conv);
    this.client.store.setBaseline(conv.id, conv.lastSeq);
    if (!this.knownSeq.has(conv.id)) this.knownSeq.set(conv.id, conv.lastSeq);
    if (conv.peerId) {
      void this.ensureUsers([conv.peerId]);
      void this.loadPresence([conv.peerId]);
    }
    this.refreshConversations();
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<void> {
    const r = await this.attempt('Adding members', () => this.client.rest.addMembers(conversationId, userIds));
    if (r) {
      this.set({ members: { ...this.state.members, [conversationId]: r.members } });
      void this.ensureUsers(r.members.map((m) => m.userId));
    }
  }

  async removeMember(conversationId: string, userId: string): Promise<boolean> {
    const ok = await this.attempt('Removing', async () => {
      await this.client.rest.removeMember(conversationId, userId);
      return true;
    });
    if (!ok) return false;
    if (userId === this.state.me.id) {
      this.client.store.removeConversation(conversationId);
      this.refreshConversations();
    } else {
      void this.loadMembers(conversationId);
    }
    return true;
  }

  async updateProfile(patch: { displayName?: string; statusText?: string | null; avatarMediaId?: string }): Promise<boolean> {
    const me = await this.attempt('Saving the profile', () => this.client.rest.updateMe(patch));
    if (!me) return false;
    this.set({ me });
    this.setUsers({ ...this.state.users, [me.id]: me });
    return true;
  }

  // --- uploads ---------------------------------------------------------------------------

  private patchUpload(id: string, patch: Partial<Upload>): void {
    this.set({ uploads: this.state.uploads.map((u) => (u.id === id ? { ...u, ...patch } : u)) });
  }

  removeUpload(id: string): void {
    const u = this.state.uploads.find((x) => x.id === id);
    if (u?.previewUrl) URL.revokeObjectURL(u.previewUrl);
    this.set({ uploads: this.state.uploads.filter((x) => x.id !== id) });
  }

  /** Uploads a file for the composer of `conversationId` (or '' for the profile). */
  async upload(conversationId: string, file: File): Promise<string | undefined> {
    const id = `u${Date.now()}${Math.random().toString(36).slice(2, 6)}`;
    const upload: Upload = { id, conversationId, filename: file.name, loaded: 0, total: file.size };
    if (file.size === 0) {
      this.set({ uploads: [...this.state.uploads, { ...upload, error: `“${file.name}” is empty (0 bytes), so there is nothing to send.` }] });
      return undefined;
    }
    if (file.type.startsWith('image/')) upload.previewUrl = URL.createObjectURL(file);
    this.set({ uploads: [...this.state.uploads, upload] });
    try {
      const media = await uploadMedia(
        { baseUrl: this.client.rest.baseUrl, accessToken: async () => (await this.client.rest.freshAccessToken()) ?? '' },
        file,
        { onProgress: (p: UploadProgress) => this.patchUpload(id, { loaded: p.loaded, total: p.total || file.size }) },
      );
      this.patchUpload(id, { mediaId: media.id, loaded: file.size });
      return media.id;
    } catch (err) {
      this.patchUpload(id, { error: errorText(err) });
      return undefined;
    }
  }

  /** A fresh URL for a media whose signed URL expired. */
  async refreshMediaUrl(mediaId: string, which: 'thumbnail' | 'full' = 'thumbnail'): Promise<string | undefined> {
    try {
      const media = await this.client.rest.request<{ url?: string; thumbnailUrl?: string }>('GET', `/v1/media/${encodeURIComponent(mediaId)}`);
      return which === 'full' ? (media.url ?? media.thumbnailUrl) : (media.thumbnailUrl ?? media.url);
    } catch {
      return undefined;
    }
  }
}
