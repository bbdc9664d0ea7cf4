/**
 * The typed REST client for `/v1` (docs: shared api.md and the server's `/openapi.json`).
 * It keeps the session's tokens, refreshes the access token once on a 401 and retries, and
 * makes sure only one refresh is ever in flight: refresh tokens rotate and a spent one
 * presented again revokes the whole session, so two concurrent refreshes would log the
 * user out. Uses the global `fetch` (browsers, Node 20) unless one is given.
 */
import type { Block, Call, CallCredentials, CallKind, Conversation, Me, Member, Message, MessageEdit, Pin, Report, Role, SearchHit, SyncEvent, ThreadSummary, User } from './types.js';

/** Every failure of an SDK call: HTTP errors, `error` frames, and local ones (status 0). */
export class ParleyError extends Error {
  /** HTTP status; 0 for WebSocket errors and local failures (network, timeout, disconnected). */
  readonly status: number;
  /** A stable code from docs/errors.md, or `network_error`, `timeout`, `disconnected`. */
  readonly code: string;
  /** Seconds to wait before retrying (`rate_limited`). */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ParleyError';
    this.status = status;
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/** Codes that mean "not now" rather than "no": the same request may succeed later. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['rate_limited', 'unavailable', 'internal', 'timeout', 'disconnected', 'network_error']);

export function isRetryable(err: unknown): boolean {
  return err instanceof ParleyError && RETRYABLE_CODES.has(err.code);
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export interface AuthResult extends Tokens {
  user: Me;
  expiresIn: number;
}

export interface TokenPair extends Tokens {
  expiresIn: number;
}

export interface WebPushSubscription {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

export interface Device {
  id: string;
  platform: 'fcm' | 'apns' | 'webpush';
  token?: string;
  subscription?: WebPushSubscription;
  createdAt: string;
}

export interface SendMessageBody {
  clientMsgId: string;
  text?: string | null;
  attachments?: string[];
  replyToId?: string | null;
  /** Starts or continues the thread of this message. */
  threadRootId?: string | null;
}

export interface PresenceState {
  status: 'online' | 'offline';
  lastSeenAt?: string;
}

export interface RestOptions {
  /** `https://chat.example.com` (no trailing `/v1`). */
  baseUrl: string;
  tokens?: Tokens | null;
  /** Called whenever the tokens change (login, refresh, logout), to persist them. */
  onTokens?: (tokens: Tokens | null) => void;
  /** Called once when the session is over (refresh refused): log the user out. */
  onSessionEnded?: () => void;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Sends the access token; on by default. */
  auth?: boolean;
}

/** Reads the `exp` claim of a JWT without verifying it (the server does that). */
function jwtExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const claims = JSON.parse(atob(b64)) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const enc = encodeURIComponent;

export class RestClient {
  readonly baseUrl: string;
  private tokens: Tokens | null;
  private refreshing: Promise<void> | null = null;
  private readonly fetchImpl: typeof fetch;
  private readonly onTokens: ((t: Tokens | null) => void) | undefined;
  onSessionEnded: (() => void) | undefined;

  constructor(opts: RestOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.tokens = opts.tokens ?? null;
    this.onTokens = opts.onTokens;
    this.onSessionEnded = opts.onSessionEnded;
    // Bound: some environments throw "Illegal invocation" for a detached window.fetch.
    this.fetchImpl = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  get accessToken(): string | null {
    return this.tokens?.accessToken ?? null;
  }
  get refreshToken(): string | null {
    return this.tokens?.refreshToken ?? null;
  }

  setTokens(tokens: Tokens | null): void {
    this.tokens = tokens ? { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken } : null;
    this.onTokens?.(this.tokens);
  }

  /** True when the access token expires within `marginMs` (unknown expiry: false). */
  accessTokenExpiresSoon(marginMs = 30_000, now = Date.now()): boolean {
    const exp = this.tokens ? jwtExpiry(this.tokens.accessToken) : undefined;
    return exp !== undefined && exp - now < marginMs;
  }

  /** A valid access token, refreshed first if it is about to expire. */
  async freshAccessToken(): Promise<string | null> {
    if (this.tokens && this.accessTokenExpiresSoon()) await this.refresh().catch(() => {});
    return this.accessToken;
  }

  /**
   * Rotates the tokens. Concurrent callers share one request. A 401 means the session is
   * over (revoked, or this refresh token was already spent): tokens are dropped.
   */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    const refreshToken = this.tokens?.refreshToken;
    if (!refreshToken) return Promise.reject(new ParleyError(401, 'unauthorized', 'Not logged in.'));
    this.refreshing = (async () => {
      try {
        const pair = await this.raw<TokenPair>('POST', '/v1/auth/refresh', { body: { refreshToken }, auth: false });
        // A logout while the refresh was in flight wins.
        if (this.tokens?.refreshToken === refreshToken) this.setTokens(pair);
      } catch (err) {
        if (err instanceof ParleyError && err.status === 401 && this.tokens?.refreshToken === refreshToken) {
          this.setTokens(null);
          this.onSessionEnded?.();
        }
        throw err;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** One call; a 401 with a token triggers one refresh and one retry. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const usedToken = opts.auth === false ? null : this.accessToken;
    try {
      return await this.raw<T>(method, path, opts);
    } catch (err) {
      if (!(err instanceof ParleyError) || err.status !== 401 || opts.auth === false || !this.tokens) throw err;
      // Another call may have refreshed meanwhile: retry with its token instead of spending ours.
      if (this.accessToken === usedToken) await this.refresh();
      return this.raw<T>(method, path, opts);
    }
  }

  private async raw<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    let url = this.baseUrl + path;
    if (opts.query) {
      const qs = Object.entries(opts.query)
        .filter((e): e is [string, string | number] => e[1] !== undefined)
        .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
        .join('&');
      if (qs) url += `?${qs}`;
    }
    const headers: Record<string, string> = {};
    if (opts.auth !== false && this.tokens) headers.authorization = `Bearer ${this.tokens.accessToken}`;
    const init: RequestInit = { method, headers };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, init);
    } catch (err) {
      throw new ParleyError(0, 'network_error', err instanceof Error ? err.message : 'Network error.');
    }
    const text = await res.text().catch(() => '');
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }
    if (!res.ok) {
      const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const retry = Number(res.headers.get('retry-after'));
      throw new ParleyError(
        res.status,
        typeof e?.code === 'string' ? e.code : res.status >= 500 ? 'unavailable' : 'invalid_request',
        typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`,
        Number.isFinite(retry) && retry > 0 ? retry : undefined,
      );
    }
    return (res.status === 204 ? undefined : body) as T;
  }

  // --- auth ------------------------------------------------------------------------------

  async signup(body: { email: string; username: string; password: string; displayName?: string }): Promise<AuthResult> {
    const r = await this.raw<AuthResult>('POST', '/v1/auth/signup', { body, auth: false });
    this.setTokens(r);
    return r;
  }

  async login(login: string, password: string): Promise<AuthResult> {
    const r = await this.raw<AuthResult>('POST', '/v1/auth/login', { body: { login, password }, auth: false });
    this.setTokens(r);
    return r;
  }

  /** Ends the session on the server; the local tokens are dropped even if that fails. */
  async logout(): Promise<void> {
    try {
      if (this.tokens) await this.raw<void>('POST', '/v1/auth/logout', {});
    } finally {
      this.setTokens(null);
    }
  }

  // --- users & devices -------------------------------------------------------------------

  me(): Promise<Me> {
    return this.request('GET', '/v1/me');
  }
  updateMe(patch: { displayName?: string; avatarMediaId?: string | null; statusText?: string | null }): Promise<Me> {
    return this.request('PATCH', '/v1/me', { body: patch });
  }
  getUser(id: string): Promise<User> {
    return this.request('GET', `/v1/users/${enc(id)}`);
  }
  searchUsers(query: string, limit?: number): Promise<{ users: User[] }> {
    return this.request('GET', '/v1/users', { query: { query, limit } });
  }
  registerDevice(body: { platform: Device['platform']; token?: string; subscription?: WebPushSubscription }): Promise<Device> {
    return this.request('POST', '/v1/me/devices', { body });
  }
  deleteDevice(id: string): Promise<void> {
    return this.request('DELETE', `/v1/me/devices/${enc(id)}`);
  }

  // --- conversations & members -----------------------------------------------------------

  /** The direct conversation with a user (created on first use, the same one afterwards). */
  createDirect(userId: string): Promise<Conversation> {
    return this.request('POST', '/v1/conversations', { body: { type: 'direct', userId } });
  }
  createGroup(body: { title: string; memberIds: string[]; topic?: string }): Promise<Conversation> {
    return this.request('POST', '/v1/conversations', { body: { type: 'group', ...body } });
  }
  listConversations(opts: { cursor?: string; limit?: number } = {}): Promise<{ conversations: Conversation[]; nextCursor: string | null }> {
    return this.request('GET', '/v1/conversations', { query: opts });
  }
  getConversation(id: string): Promise<Conversation> {
    return this.request('GET', `/v1/conversations/${enc(id)}`);
  }
  updateConversation(id: string, patch: { title?: string; topic?: string | null; avatarMediaId?: string | null }): Promise<Conversation> {
    return this.request('PATCH', `/v1/conversations/${enc(id)}`, { body: patch });
  }
  listMembers(id: string): Promise<{ members: Member[] }> {
    return this.request('GET', `/v1/conversations/${enc(id)}/members`);
  }
  addMembers(id: string, userIds: string[]): Promise<{ members: Member[] }> {
    return this.request('POST', `/v1/conversations/${enc(id)}/members`, { body: { userIds } });
  }
  /** Removes a member (owner/admin), or leaves when `userId` is the caller. */
  removeMember(id: string, userId: string): Promise<void> {
    return this.request('DELETE', `/v1/conversations/${enc(id)}/members/${enc(userId)}`);
  }
  /** Owner only: `admin`/`member` promotes or demotes; `owner` hands ownership over (the caller becomes admin). */
  setMemberRole(id: string, userId: string, role: Role): Promise<{ members: Member[] }> {
    return this.request('PATCH', `/v1/conversations/${enc(id)}/members/${enc(userId)}`, { body: { role } });
  }
  markRead(id: string, seq: number): Promise<{ lastReadSeq: number; unreadCount: number }> {
    return this.request('POST', `/v1/conversations/${enc(id)}/read`, { body: { seq } });
  }

  // --- messages --------------------------------------------------------------------------

  /** Sends over REST (prefer `ParleyClient.sendMessage`, which goes through the outbox). */
  sendMessage(conversationId: string, body: SendMessageBody): Promise<Message> {
    return this.request('POST', `/v1/conversations/${enc(conversationId)}/messages`, { body });
  }
  listMessages(conversationId: string, opts: { before?: number; after?: number; limit?: number } = {}): Promise<{ messages: Message[]; hasMore: boolean }> {
    return this.request('GET', `/v1/conversations/${enc(conversationId)}/messages`, { query: opts });
  }
  editMessage(conversationId: string, messageId: string, text: string): Promise<Message> {
    return this.request('PATCH', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}`, { body: { text } });
  }
  deleteMessage(conversationId: string, messageId: string): Promise<void> {
    return this.request('DELETE', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}`);
  }
  addReaction(conversationId: string, messageId: string, emoji: string): Promise<Message> {
    return this.request('PUT', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }
  removeReaction(conversationId: string, messageId: string, emoji: string): Promise<Message> {
    return this.request('DELETE', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }

  // --- calls -----------------------------------------------------------------------------

  /** Starts a call (201), or joins the one already open in the conversation (200). */
  startCall(conversationId: string, kind: CallKind): Promise<{ call: Call; credentials: CallCredentials }> {
    return this.request('POST', '/v1/calls', { body: { conversationId, kind } });
  }
  /** Joins (accepts) an open call; `conflict` once it has ended. */
  joinCall(id: string): Promise<{ call: Call; credentials: CallCredentials }> {
    return this.request('POST', `/v1/calls/${enc(id)}/join`);
  }
  declineCall(id: string): Promise<Call> {
    return this.request('POST', `/v1/calls/${enc(id)}/decline`);
  }
  /** Hangs up; with fewer than two left the call ends for everyone. */
  leaveCall(id: string): Promise<Call> {
    return this.request('POST', `/v1/calls/${enc(id)}/leave`);
  }
  /** Ends the call for everyone. */
  endCall(id: string): Promise<Call> {
    return this.request('POST', `/v1/calls/${enc(id)}/end`);
  }
  getCall(id: string): Promise<Call> {
    return this.request('GET', `/v1/calls/${enc(id)}`);
  }
  /** A conversation's calls, newest first. */
  listCalls(conversationId: string, opts: { cursor?: string; limit?: number } = {}): Promise<{ calls: Call[]; nextCursor: string | null }> {
    return this.request('GET', '/v1/calls', { query: { conversationId, ...opts } });
  }

  /** A thread: its root and a page of replies (reply with `sendMessage(..., {threadRootId})`). */
  threadMessages(conversationId: string, rootId: string, opts: { before?: number; after?: number; limit?: number } = {}): Promise<{ root: Message; messages: Message[]; hasMore: boolean; following: boolean }> {
    return this.request('GET', `/v1/conversations/${enc(conversationId)}/threads/${enc(rootId)}/messages`, { query: opts });
  }
  /** Threads you follow in a conversation, with unread reply counts. */
  listThreads(conversationId: string): Promise<{ threads: ThreadSummary[] }> {
    return this.request('GET', `/v1/conversations/${enc(conversationId)}/threads`);
  }
  followThread(conversationId: string, rootId: string, follow: boolean): Promise<void> {
    return this.request(follow ? 'PUT' : 'DELETE', `/v1/conversations/${enc(conversationId)}/threads/${enc(rootId)}/follow`);
  }
  markThreadRead(conversationId: string, rootId: string, seq: number): Promise<void> {
    return this.request('POST', `/v1/conversations/${enc(conversationId)}/threads/${enc(rootId)}/read`, { body: { seq } });
  }
  /** The texts a message had before each edit, oldest first. */
  messageEdits(conversationId: string, messageId: string): Promise<{ edits: MessageEdit[] }> {
    return this.request('GET', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}/edits`);
  }
  listPins(conversationId: string): Promise<{ pins: Pin[] }> {
    return this.request('GET', `/v1/conversations/${enc(conversationId)}/pins`);
  }
  pinMessage(conversationId: string, messageId: string): Promise<{ pins: Pin[] }> {
    return this.request('PUT', `/v1/conversations/${enc(conversationId)}/pins/${enc(messageId)}`);
  }
  unpinMessage(conversationId: string, messageId: string): Promise<void> {
    return this.request('DELETE', `/v1/conversations/${enc(conversationId)}/pins/${enc(messageId)}`);
  }
  reportMessage(conversationId: string, messageId: string, reason: string): Promise<Report> {
    return this.request('POST', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}/report`, { body: { reason } });
  }

  // --- search & blocking -----------------------------------------------------------------

  /** Full-text search over your conversations, newest first; page with `nextCursor`. */
  searchMessages(q: string, opts: { conversationId?: string; from?: string; before?: string; after?: string; has?: 'attachment'; cursor?: string; limit?: number } = {}): Promise<{ results: SearchHit[]; nextCursor: string | null }> {
    return this.request('GET', '/v1/search/messages', { query: { q, ...opts } });
  }
  listBlocks(): Promise<{ blocks: Block[] }> {
    return this.request('GET', '/v1/me/blocks');
  }
  blockUser(userId: string): Promise<void> {
    return this.request('PUT', `/v1/me/blocks/${enc(userId)}`);
  }
  unblockUser(userId: string): Promise<void> {
    return this.request('DELETE', `/v1/me/blocks/${enc(userId)}`);
  }

  // --- administration (deployment administrators) ---------------------------------------

  adminListReports(opts: { status?: 'open' | 'resolved'; cursor?: string; limit?: number } = {}): Promise<{ reports: Report[]; nextCursor: string | null }> {
    return this.request('GET', '/v1/admin/reports', { query: opts });
  }
  adminResolveReport(reportId: string): Promise<Report> {
    return this.request('POST', `/v1/admin/reports/${enc(reportId)}/resolve`);
  }
  adminDeleteMessage(conversationId: string, messageId: string): Promise<void> {
    return this.request('DELETE', `/v1/admin/conversations/${enc(conversationId)}/messages/${enc(messageId)}`);
  }
  adminDeactivateUser(userId: string): Promise<{ id: string; deactivatedAt: string; sessionsRevoked: number }> {
    return this.request('POST', `/v1/admin/users/${enc(userId)}/deactivate`);
  }

  // --- sync & presence -------------------------------------------------------------------

  /** Events since a cursor (none: a fresh cursor). The same change may come twice: dedupe by `rev`. */
  sync(opts: { since?: string; limit?: number } = {}): Promise<{ events: SyncEvent[]; cursor: string; hasMore: boolean }> {
    return this.request('GET', '/v1/sync', { query: opts });
  }
  /** Presence of users who share a conversation with the caller (others are left out). */
  presence(userIds: string[]): Promise<{ presence: Record<string, PresenceState> }> {
    return this.request('GET', '/v1/presence', { query: { userIds: userIds.join(',') } });
  }
}
