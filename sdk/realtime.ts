/**
 * The realtime connection: one WebSocket to `/v1/ws` that reconnects by itself (exponential
 * backoff, full jitter), resumes from its last cursor after every reconnect, answers
 * request frames by `id`, pings to notice dead links, and emits every server frame, typed by
 * `ServerEventMap`. It holds no chat state; `ParleyClient` (client.ts) builds on it.
 * Works in browsers and in Node (pass `ws`'s `WebSocket` as `WebSocketImpl`); no Node imports.
 */
import type { ClientFrame, ClientFrameMap, ServerEvent, ServerEventMap } from './types.js';
import { ParleyError } from './rest.js';

// ---------------------------------------------------------------------------------------
// A tiny typed event emitter (no Node `events`: the SDK runs in browsers too).

export type Listener<T> = (payload: T) => void;

export class Emitter<M extends object> {
  private readonly listeners = new Map<keyof M, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(type: K, fn: Listener<M[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => this.off(type, fn);
  }

  off<K extends keyof M>(type: K, fn: Listener<M[K]>): void {
    this.listeners.get(type)?.delete(fn as Listener<never>);
  }

  /** Resolves with the next payload of `type` that satisfies `pred`. */
  once<K extends keyof M>(type: K, pred: (payload: M[K]) => boolean = () => true): Promise<M[K]> {
    return new Promise((resolve) => {
      const off = this.on(type, (p) => {
        if (!pred(p)) return;
        off();
        resolve(p);
      });
    });
  }

  emit<K extends keyof M>(type: K, payload: M[K]): void {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<M[K]>)(payload);
      } catch (err) {
        // An application listener's bug must not break the connection's state machine.
        console.error(`parley: a "${String(type)}" listener threw`, err);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Backoff

export interface BackoffOptions {
  /** Upper bound of the first delay. */
  baseMs?: number;
  /** No delay is ever longer than this. */
  capMs?: number;
  /** A connection that stayed up this long resets the attempt count. */
  stableMs?: number;
}

/**
 * "Full jitter" (AWS architecture blog): a uniformly random delay in [0, min(cap, base·2^n)).
 * The randomness spreads out the thousands of clients a restarting server disconnects at once.
 */
export function backoffDelay(attempt: number, opts: { baseMs: number; capMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

// ---------------------------------------------------------------------------------------
// The WebSocket seen by the SDK: the part common to browsers' WebSocket and `ws`.

/**
 * Handler slots are declared with method-style bivariance so that both the DOM's
 * `WebSocket` and `ws`'s (whose event types differ) fit this interface.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;
/** Close codes after which reconnecting cannot help: the session is over. */
const CLOSE_SESSION_ENDED = 1008;
/** Sent by us when we give up on a socket (no pong) or stop: not a server decision. */
const CLOSE_NORMAL = 1000;

// ---------------------------------------------------------------------------------------

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the connection emits: every server frame, plus its own lifecycle events. */
export interface RealtimeEventMap extends ServerEventMap {
  'connection.state': { state: ConnectionState; attempt?: number; delayMs?: number; closeCode?: number };
  /** The server ended the session (logout, revoked): the connection stopped for good. */
  'session.ended': { reason: string };
  /** A resume was started (after a reconnect or `sync.required`); events until `resumed` are replays. */
  resuming: { cursor: string };
  /** A resume was refused (e.g. a cursor the server no longer accepts): state may be stale. */
  'resume.failed': { error: ParleyError };
}

export interface RealtimeOptions {
  /** `ws(s)://host/v1/ws`. */
  url: string;
  /** The access token for the next connection attempt (may refresh it first). */
  getAccessToken: () => string | null | Promise<string | null>;
  /**
   * Called when an attempt failed before the socket opened. Browsers do not expose the
   * HTTP status of a refused upgrade, so a 401 (expired or revoked token) looks exactly like
   * a network failure: this hook checks the token (and refreshes it) before the next try.
   */
  onConnectFailed?: () => Promise<void>;
  WebSocketImpl?: WebSocketConstructor;
  /** `query` (`?token=`, default) or `protocol` (`Sec-WebSocket-Protocol: bearer.<token>`). */
  tokenTransport?: 'query' | 'protocol';
  pingIntervalMs?: number;
  /** With no pong this long after a ping, the link is considered dead and replaced. */
  pongTimeoutMs?: number;
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  /** A cursor saved from an earlier run (`cursor` getter): the first connection resumes from it. */
  cursor?: string;
}

export type ReadyPayload = ServerEventMap['ready'];

type ReplyOf<T extends ClientFrame['type']> = T extends 'resume' ? ServerEventMap['resumed'] : T extends 'ping' ? ServerEventMap['pong'] : ServerEventMap['ack'];
type FrameInput<T extends ClientFrame['type']> = ClientFrameMap[T];

interface Pending {
  resolve: (reply: ServerEvent) => void;
  reject: (err: ParleyError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class RealtimeConnection extends Emitter<RealtimeEventMap> {
  private readonly opts: Required<Omit<RealtimeOptions, 'onConnectFailed' | 'WebSocketImpl' | 'backoff' | 'cursor'>> & {
    onConnectFailed?: () => Promise<void>;
    WebSocketImpl: WebSocketConstructor;
  };
  private readonly backoff: Required<BackoffOptions>;
  private socket: WebSocketLike | null = null;
  private _state: ConnectionState = 'idle';
  private wanted = false;
  private attempt = 0;
  private everReady = false;
  private isReady = false;
  private _cursor: string | undefined;
  private _resuming = false;
  private resumeId: string | undefined;
  private resumeAgain = false;
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();
  private timers: {
    retry?: ReturnType<typeof setTimeout>;
    ping?: ReturnType<typeof setInterval>;
    pong?: ReturnType<typeof setTimeout>;
    stable?: ReturnType<typeof setTimeout>;
    /** A resume the server refused as too frequent, tried again after its retryAfter. */
    resume?: ReturnType<typeof setTimeout>;
  } = {};
  private firstReady: { resolve: (r: ReadyPayload) => void; reject: (e: Error) => void } | null = null;
  private _user: ReadyPayload | undefined;

  constructor(options: RealtimeOptions) {
    super();
    const Impl = options.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Impl) throw new Error('No WebSocket available: pass `WebSocketImpl` (e.g. the `ws` package).');
    this.opts = {
      url: options.url,
      getAccessToken: options.getAccessToken,
      WebSocketImpl: Impl,
      tokenTransport: options.tokenTransport ?? 'query',
      pingIntervalMs: options.pingIntervalMs ?? 25_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 20_000,
      random: options.random ?? Math.random,
      ...(options.onConnectFailed ? { onConnectFailed: options.onConnectFailed } : {}),
    };
    this.backoff = { baseMs: 500, capMs: 30_000, stableMs: 10_000, ...options.backoff };
    this._cursor = options.cursor;
  }

  get state(): ConnectionState {
    return this._state;
  }
  /** True between `ready` and the socket closing: frames can be sent. */
  get connected(): boolean {
    return this.isReady && this.socket?.readyState === OPEN;
  }
  /** True while a resume replay is in flight (events are catch-up, possibly out of seq order). */
  get resuming(): boolean {
    return this._resuming;
  }
  /** The position to resume from on the next reconnect (opaque). */
  get cursor(): string | undefined {
    return this._cursor;
  }
  /** The last `ready` payload. */
  get session(): ReadyPayload | undefined {
    return this._user;
  }

  /**
   * Starts connecting (and keeps reconnecting until `stop()` or the session ends). Resolves
   * on the next `ready`. After a `stop()`, calling it again reconnects and resumes from the
   * cursor it had.
   */
  start(): Promise<ReadyPayload> {
    if (this.wanted && this.connected && this._user) return Promise.resolve(this._user);
    const p = new Promise<ReadyPayload>((resolve, reject) => {
      const prev = this.firstReady;
      this.firstReady = {
        resolve: (r) => (prev?.resolve(r), resolve(r)),
        reject: (e) => (prev?.reject(e), reject(e)),
      };
    });
    if (!this.wanted) {
      this.wanted = true;
      this.attempt = 0;
      void this.open();
    }
    return p;
  }

  /** Closes the connection and stops reconnecting. In-flight requests fail with `disconnected`. */
  stop(): void {
    this.wanted = false;
    clearTimeout(this.timers.retry);
    const s = this.socket;
    this.teardown(new ParleyError(0, 'disconnected', 'The connection was closed.'));
    if (s) {
      try {
        s.close(CLOSE_NORMAL, 'client closed');
      } catch {
        /* already closing */
      }
    }
    this.setState('closed');
    this.firstReady?.reject(new ParleyError(0, 'disconnected', 'The connection was stopped before it was ready.'));
    this.firstReady = null;
  }

  /** Sends a frame that gets no reply (typing). False when not connected. */
  send<T extends ClientFrame['type']>(type: T, frame: FrameInput<T>): boolean {
    if (!this.connected) return false;
    this.write({ ...frame, type });
    return true;
  }

  /**
   * Sends a frame and resolves with its reply (`ack`, `resumed` or `pong`, by `id`), or
   * rejects with a `ParleyError` from the `error` frame, a `timeout`, or `disconnected`.
   */
  request<T extends ClientFrame['type']>(type: T, frame: FrameInput<T>, timeoutMs = this.opts.requestTimeoutMs): Promise<ReplyOf<T>> {
    return this.requestWithId(`c${++this.nextId}`, type, frame, timeoutMs);
  }

  private requestWithId<T extends ClientFrame['type']>(id: string, type: T, frame: FrameInput<T>, timeoutMs: number): Promise<ReplyOf<T>> {
    if (!this.connected) return Promise.reject(new ParleyError(0, 'disconnected', 'Not connected.'));
    return new Promise<ReplyOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyError(0, 'timeout', `No reply to ${type} within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (r) => resolve(r as unknown as ReplyOf<T>), reject, timer });
      this.write({ ...frame, type, id });
    });
  }

  /**
   * Replays what was missed since the stored cursor. Done automatically after every
   * reconnect and on `sync.required`; an application rarely needs it.
   */
  resume(): void {
    if (!this.connected || !this._cursor) return;
    if (this._resuming) {
      this.resumeAgain = true; // replay again after the current one: it may have scanned too early
      return;
    }
    const cursor = this._cursor;
    const id = `r${++this.nextId}`;
    this._resuming = true;
    this.resumeId = id;
    this.emit('resuming', { cursor });
    // A replay can be long (many pages); its own timeout is generous. Success is handled
    // in onFrame, synchronously, so that `resumed` listeners see the new state.
    this.requestWithId(id, 'resume', { cursor }, Math.max(this.opts.requestTimeoutMs, 60_000)).then(
      (reply) => {
        // hasMore: the server bounds one replay; the rest follows from the cursor it gave.
        if (this.resumeAgain || reply.hasMore) {
          this.resumeAgain = false;
          this.resume();
        }
      },
      (err: ParleyError) => {
        if (this.resumeId === id) {
          this._resuming = false;
          this.resumeId = undefined;
        }
        this.resumeAgain = false;
        // Too frequent (many sync.required in a row, say): the cursor is still good, so the
        // same resume goes again once the server's window allows it.
        if (err.code === 'rate_limited') {
          clearTimeout(this.timers.resume);
          this.timers.resume = setTimeout(() => this.resume(), Math.max(1, err.retryAfter ?? 1) * 1000);
          return;
        }
        // Disconnected: the next connection resumes from the same cursor. Refused: nothing
        // left to resume from; the application must reload what it shows.
        if (err.code !== 'disconnected' && err.code !== 'timeout') this.emit('resume.failed', { error: err });
        else if (err.code === 'timeout') this.replaceDeadSocket();
      },
    );
  }

  // -------------------------------------------------------------------------------------

  private setState(state: ConnectionState, extra: Omit<RealtimeEventMap['connection.state'], 'state'> = {}): void {
    this._state = state;
    this.emit('connection.state', { state, ...extra });
  }

  /** Frames are built from `ClientFrameMap` entries by the typed callers above. */
  private write(frame: { type: ClientFrame['type']; id?: string }): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private async open(): Promise<void> {
    if (!this.wanted) return;
    this.setState(this.everReady ? 'reconnecting' : 'connecting', { attempt: this.attempt });
    let token: string | null;
    try {
      token = await this.opts.getAccessToken();
    } catch {
      token = null;
    }
    if (!this.wanted) return;
    if (!token) {
      this.scheduleRetry(undefined, true);
      return;
    }
    const { url, tokenTransport, WebSocketImpl } = this.opts;
    let socket: WebSocketLike;
    try {
      socket =
        tokenTransport === 'protocol'
          ? new WebSocketImpl(url, [`bearer.${token}`])
          : new WebSocketImpl(`${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`);
    } catch {
      this.scheduleRetry(undefined, true);
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
    };
    socket.onerror = () => {
      /* a close event always follows; handled there */
    };
    socket.onmessage = (ev) => {
      if (this.socket === socket && typeof ev.data === 'string') this.onFrame(ev.data);
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.onSocketClosed(ev.code, ev.reason, !opened);
    };
  }

  private onSocketClosed(code: number, reason: string, failedBeforeOpen: boolean): void {
    this.teardown(new ParleyError(0, 'disconnected', `The connection closed (${code}).`));
    if (!this.wanted) return;
    if (code === CLOSE_SESSION_ENDED) {
      this.wanted = false;
      this.setState('closed', { closeCode: code });
      this.emit('session.ended', { reason: reason || 'session ended' });
      this.firstReady?.reject(new ParleyError(401, 'unauthorized', 'The session ended.'));
      this.firstReady = null;
      return;
    }
    // 1012 (restart), 1013 (try later / slow reader), 1006 (network), 1009, anything else:
    // reconnect. The server never asks us to stay away for good except with 1008.
    this.scheduleRetry(code, failedBeforeOpen);
  }

  private scheduleRetry(closeCode: number | undefined, failedBeforeOpen: boolean): void {
    if (!this.wanted) return;
    const delayMs = backoffDelay(this.attempt, this.backoff, this.opts.random);
    this.attempt += 1;
    this.setState('reconnecting', { attempt: this.attempt, delayMs, ...(closeCode !== undefined ? { closeCode } : {}) });
    const go = async () => {
      if (!this.wanted) return;
      if (failedBeforeOpen && this.opts.onConnectFailed) {
        try {
          await this.opts.onConnectFailed();
        } catch {
          /* offline: the next attempt will tell */
        }
      }
      await this.open();
    };
    this.timers.retry = setTimeout(() => void go(), delayMs);
  }

  /** Forgets the current socket: timers off, requests failed. */
  private teardown(reason: ParleyError): void {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.resume);
    clearTimeout(this.timers.stable);
    const s = this.socket;
    this.socket = null;
    this.isReady = false;
    this._resuming = false;
    this.resumeId = undefined;
    this.resumeAgain = false;
    if (s) {
      s.onopen = s.onmessage = s.onerror = s.onclose = null;
    }
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(reason);
    }
  }

  /** Gives up on a socket that stopped answering and reconnects at once. */
  private replaceDeadSocket(): void {
    const s = this.socket;
    this.teardown(new ParleyError(0, 'disconnected', 'The connection stopped answering.'));
    try {
      s?.close(CLOSE_NORMAL, 'no pong');
    } catch {
      /* ignore */
    }
    this.scheduleRetry(1006, false);
  }

  private onFrame(raw: string): void {
    let frame: ServerEvent;
    try {
      frame = JSON.parse(raw) as ServerEvent;
    } catch {
      return; // the server only sends JSON; ignore what we cannot read
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') return;
    switch (frame.type) {
      case 'ready':
        this.onReady(frame);
        break;
      case 'ack':
      case 'resumed':
      case 'pong':
      case 'error': {
        if (frame.type === 'pong') this.onPong(frame);
        if (frame.type === 'resumed' && frame.id !== undefined && frame.id === this.resumeId) {
          this._cursor = frame.cursor;
          this._resuming = false;
          this.resumeId = undefined;
        }
        const id = frame.id;
        const p = id === undefined ? undefined : this.pending.get(id);
        if (p && id !== undefined) {
          this.pending.delete(id);
          clearTimeout(p.timer);
          if (frame.type === 'error') p.reject(new ParleyError(0, frame.code, frame.message, frame.retryAfter));
          else p.resolve(frame);
        }
        break;
      }
      case 'sync.required':
        // The server's bus dropped events: the pong cursors since then may skip them.
        this.resume();
        break;
      default:
        break;
    }
    this.emit(frame.type, frame as never);
  }

  private onReady(frame: ServerEventMap['ready']): void {
    this.isReady = true;
    this._user = frame;
    this.everReady = true;
    // With no position yet (first connection) we start from now; otherwise we keep the old
    // cursor (from a previous connection, or persisted by the app) and resume from it.
    const resumeFrom = this._cursor;
    if (resumeFrom === undefined) this._cursor = frame.cursor;
    this.setState('open');
    this.timers.stable = setTimeout(() => (this.attempt = 0), this.backoff.stableMs);
    this.timers.ping = setInterval(() => this.ping(), this.opts.pingIntervalMs);
    if (resumeFrom !== undefined) this.resume();
    this.firstReady?.resolve(frame);
    this.firstReady = null;
  }

  private ping(): void {
    if (!this.connected) return;
    const id = `p${++this.nextId}`;
    this.write({ type: 'ping', id });
    clearTimeout(this.timers.pong);
    this.timers.pong = setTimeout(() => this.replaceDeadSocket(), this.opts.pongTimeoutMs);
  }

  private onPong(frame: ServerEventMap['pong']): void {
    clearTimeout(this.timers.pong);
    // A pong cursor says "you have everything up to now". Not true while a replay is
    // pending (sync.required or a reconnect): keep the older cursor until `resumed`.
    if (frame.cursor && !this._resuming) this._cursor = frame.cursor;
  }
}
