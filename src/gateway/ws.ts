/**
 * The WebSocket gateway (`GET /v1/ws`): authenticates before the upgrade, keeps one bus
 * subscription per topic for all its connections, and writes each event's bytes, encoded
 * once, to every socket that may see it. Frames in are validated and dispatched to the
 * same service methods the REST routes use. Protocol: docs/websocket.md.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { Ajv, type ValidateFunction } from 'ajv';
import { AppError } from '../errors.js';
import type { Config, RateLimit } from '../config.js';
import type { Logger } from '../logger.js';
import type { Bus } from '../platform/bus/index.js';
import { convTopic, userTopic } from '../platform/bus/index.js';
import type { ClientFrame, ServerEvent } from '../../sdk/types.js';
import type { AuthService } from '../modules/auth/auth.service.js';
import type { UsersService } from '../modules/users/users.service.js';
import type { ConversationsService } from '../modules/conversations/conversations.service.js';
import type { MessagesService } from '../modules/messages/messages.service.js';
import type { PresenceService } from '../modules/presence/presence.service.js';
import type { SyncService } from '../modules/sync/sync.service.js';
import { freshCursor } from '../modules/sync/sync.service.js';
import type { ControlFrame } from '../modules/realtime/realtime.js';
import { findNul, Id } from '../modules/common.schemas.js';
import { mapError } from './error-mapping.js';
import type { Metrics } from './metrics.js';

export const MAX_FRAME_BYTES = 64 * 1024;
const CLOSE_GOING_AWAY_RESTART = 1012;
const CLOSE_POLICY = 1008;
const CLOSE_TRY_AGAIN_LATER = 1013;

/** A fixed-window counter per connection (in memory: a connection lives on one process). */
class WindowCounter {
  private count = 0;
  private windowStart = 0;
  constructor(private readonly limit: RateLimit) {}
  /** Returns 0 when allowed, else the seconds until the window resets. */
  take(now = Date.now()): number {
    const len = this.limit.windowSeconds * 1000;
    if (now - this.windowStart >= len) {
      this.windowStart = now;
      this.count = 0;
    }
    if (this.count >= this.limit.max) return Math.max(1, Math.ceil((this.windowStart + len - now) / 1000));
    this.count += 1;
    return 0;
  }
}

interface Connection {
  id: string;
  userId: string;
  sessionId: string;
  socket: WebSocket;
  convs: Set<string>;
  alive: boolean;
  sends: WindowCounter;
  typing: WindowCounter;
  /** Frames are handled one after another, so acks and seqs follow the client's order. */
  queue: Promise<void>;
  /** Frames waiting in `queue` (bounded: a client cannot pile up unbounded work). */
  pending: number;
  closed: boolean;
  /** Events that arrived before `ready` went out; flushed right after it. */
  early: Buffer[] | null;
}

/** Most frames a connection may have waiting to be handled. */
const MAX_PENDING_FRAMES = 256;

export interface WsDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  bus: Bus;
  auth: AuthService;
  users: UsersService;
  conversations: ConversationsService;
  messages: MessagesService;
  presence: PresenceService;
  sync: SyncService;
}

const idField = { type: 'string', maxLength: 128 } as const;
const cid = Id;
const FRAME_SCHEMAS: Record<string, object> = {
  'message.send': {
    type: 'object',
    required: ['conversationId', 'clientMsgId'],
    properties: {
      id: idField,
      conversationId: cid,
      clientMsgId: { type: 'string', minLength: 1, maxLength: 64 },
      text: { type: ['string', 'null'], maxLength: 8000 },
      attachments: { type: 'array', maxItems: 10, items: cid },
      replyToId: { type: ['string', 'null'], maxLength: 64 },
    },
  },
  read: { type: 'object', required: ['conversationId', 'seq'], properties: { id: idField, conversationId: cid, seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } } },
  typing: { type: 'object', required: ['conversationId'], properties: { id: idField, conversationId: cid } },
  resume: {
    type: 'object',
    properties: {
      id: idField,
      cursor: { type: 'string', maxLength: 1000 },
      conversations: { type: 'object', maxProperties: 5000, propertyNames: cid, additionalProperties: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
    },
  },
  'call.signal': { type: 'object', required: ['callId', 'to'], properties: { id: idField, callId: { type: 'string', minLength: 1, maxLength: 64 }, to: cid } },
  ping: { type: 'object', properties: { id: idField } },
};

/** Extracts the access token from `?token=` or a `bearer.<token>` subprotocol. */
function tokenOf(req: IncomingMessage): string | null {
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams.get('token');
  if (q) return q;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  const bearer = protocols.find((p) => p.startsWith('bearer.'));
  return bearer ? bearer.slice('bearer.'.length) : null;
}

export class WsGateway {
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byConv = new Map<string, Set<Connection>>();
  private readonly unsubscribers = new Map<string, Promise<() => Promise<void>>>();
  private readonly validators = new Map<string, ValidateFunction>();
  private heartbeat: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly deps: WsDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES, // larger frames close the connection with 1009
      perMessageDeflate: false, // compression costs CPU per socket and defeats encode-once fan-out
      handleProtocols: (protocols) => {
        // Browsers need one of the offered protocols echoed back; prefer a non-token one.
        const list = [...protocols];
        return list.find((p) => !p.startsWith('bearer.')) ?? list[0] ?? false;
      },
    });
    const ajv = new Ajv({ strict: false, allErrors: false });
    for (const [type, schema] of Object.entries(FRAME_SCHEMAS)) this.validators.set(type, ajv.compile(schema));
    deps.bus.onReconnect(() => this.broadcastResync());
  }

  /** Handles an HTTP upgrade on `/v1/ws`; anything else is refused. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node drops its own error handler on upgraded sockets and `ws` adds one only inside
    // handleUpgrade: without this, a client resetting the connection during the
    // asynchronous auth below would crash the process with an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/ws' || this.stopping) {
      rejectUpgrade(socket, this.stopping ? 503 : 404, this.stopping ? 'Service Unavailable' : 'Not Found');
      return;
    }
    const token = tokenOf(req);
    if (!token) {
      rejectUpgrade(socket, 401, 'Unauthorized');
      return;
    }
    this.deps.auth.authenticate(token).then(
      (auth) => {
        if (socket.destroyed) return;
        if (this.stopping) {
          rejectUpgrade(socket, 503, 'Service Unavailable');
          return;
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          void this.onConnection(ws, auth.userId, auth.sessionId);
        });
      },
      (err: unknown) => {
        const m = mapError(err);
        rejectUpgrade(socket, m.status === 500 ? 500 : m.status === 503 ? 503 : 401, m.status === 503 ? 'Service Unavailable' : 'Unauthorized');
      },
    );
  }

  private async onConnection(socket: WebSocket, userId: string, sessionId: string): Promise<void> {
    const { config, metrics } = this.deps;
    const conn: Connection = {
      id: randomUUID(),
      userId,
      sessionId,
      socket,
      convs: new Set(),
      alive: true,
      sends: new WindowCounter(config.RATE_LIMIT_WS_SEND),
      typing: new WindowCounter(config.RATE_LIMIT_WS_TYPING),
      queue: Promise.resolve(),
      pending: 0,
      closed: false,
      early: [],
    };
    this.conns.add(conn);
    metrics.wsConnections.inc();
    socket.on('pong', () => (conn.alive = true));
    socket.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
    socket.on('close', () => void this.onClose(conn));
    socket.on('error', (err) => this.deps.logger.debug({ err, conn: conn.id }, 'websocket error'));
    try {
      const cursor = freshCursor();
      await this.attachUser(conn);
      const convIds = await this.deps.conversations.repo.conversationIdsOf(userId);
      await Promise.all(convIds.map((c) => this.join(conn, c)));
      const user = await this.deps.users.me(userId);
      const early = conn.early ?? [];
      conn.early = null;
      this.sendEvent(conn, { type: 'ready', user, sessionId, cursor, serverTime: new Date().toISOString() });
      for (const bytes of early) this.write(conn, bytes);
      await this.deps.presence.connected(userId, conn.id);
    } catch (err) {
      this.deps.logger.error({ err }, 'websocket setup failed');
      socket.close(CLOSE_TRY_AGAIN_LATER, 'setup failed');
    }
  }

  private async attachUser(conn: Connection): Promise<void> {
    let set = this.byUser.get(conn.userId);
    if (!set) {
      this.byUser.set(conn.userId, (set = new Set()));
      this.subscribe(userTopic(conn.userId), (payload) => this.onUserPayload(conn.userId, payload));
    }
    set.add(conn);
  }

  private subscribe(topic: string, handler: (payload: string) => void): void {
    const p = this.deps.bus.subscribe(topic, handler);
    p.catch((err: unknown) => this.deps.logger.warn({ err, topic }, 'subscribe failed'));
    this.unsubscribers.set(topic, p);
  }

  private unsubscribe(topic: string): void {
    const p = this.unsubscribers.get(topic);
    this.unsubscribers.delete(topic);
    p?.then((off) => off()).catch((err: unknown) => this.deps.logger.warn({ err, topic }, 'unsubscribe failed'));
  }

  private async join(conn: Connection, conversationId: string): Promise<void> {
    if (conn.closed || conn.convs.has(conversationId)) return;
    conn.convs.add(conversationId);
    let set = this.byConv.get(conversationId);
    if (!set) {
      this.byConv.set(conversationId, (set = new Set()));
      this.subscribe(convTopic(conversationId), (payload) => this.fanOut(conversationId, payload));
    }
    set.add(conn);
  }

  private leave(conn: Connection, conversationId: string): void {
    conn.convs.delete(conversationId);
    const set = this.byConv.get(conversationId);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) {
      this.byConv.delete(conversationId);
      this.unsubscribe(convTopic(conversationId));
    }
  }

  /** The hot path: one encode, the same bytes to every member connection. */
  private fanOut(conversationId: string, payload: string): void {
    const set = this.byConv.get(conversationId);
    if (!set || set.size === 0) return;
    const bytes = Buffer.from(payload);
    for (const c of set) this.write(c, bytes);
  }

  private onUserPayload(userId: string, payload: string): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    if (payload.startsWith('{"type":"$')) {
      const ctl = JSON.parse(payload) as ControlFrame;
      for (const c of [...set]) {
        if (ctl.type === '$join') void this.join(c, ctl.conversationId);
        else if (ctl.type === '$leave') this.leave(c, ctl.conversationId);
        else if (ctl.type === '$session.revoked' && c.sessionId === ctl.sessionId) c.socket.close(CLOSE_POLICY, 'session ended');
      }
      return;
    }
    const bytes = Buffer.from(payload);
    for (const c of set) this.write(c, bytes);
  }

  private write(conn: Connection, bytes: Buffer): void {
    if (conn.closed || conn.socket.readyState !== conn.socket.OPEN) return;
    if (conn.early) {
      // `ready` comes first (the contract); what arrives before it waits, bounded like the socket buffer.
      conn.early.push(bytes);
      if (conn.early.length > 10_000) conn.socket.close(CLOSE_TRY_AGAIN_LATER, 'too much before ready');
      return;
    }
    if (conn.socket.bufferedAmount + bytes.length > this.deps.config.WS_MAX_BUFFERED_BYTES) {
      // A reader this far behind would make us hold its backlog without bound: drop it;
      // it reconnects and resumes from its cursor.
      this.deps.metrics.wsSlowClosed.inc();
      conn.closed = true;
      conn.socket.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer');
      setTimeout(() => conn.socket.terminate(), 1000).unref();
      return;
    }
    this.deps.metrics.wsEventsOut.inc();
    conn.socket.send(bytes, { binary: false });
  }

  private sendEvent(conn: Connection, event: ServerEvent): void {
    this.write(conn, Buffer.from(JSON.stringify(event)));
  }

  private sendError(conn: Connection, id: string | undefined, err: unknown): void {
    const m = mapError(err);
    if (m.unexpected) this.deps.logger.error({ err, conn: conn.id }, 'websocket frame failed');
    const frame: ServerEvent = { type: 'error', code: m.code, message: m.message };
    if (id !== undefined) frame.id = id;
    if (m.retryAfterSeconds !== undefined) frame.retryAfter = m.retryAfterSeconds;
    this.sendEvent(conn, frame);
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    let frame: Record<string, unknown>;
    try {
      if (isBinary) throw new AppError('invalid_request', 'Frames are JSON text.');
      const parsed: unknown = JSON.parse(data.toString());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('invalid_request', 'A frame is a JSON object.');
      frame = parsed as Record<string, unknown>;
    } catch (err) {
      this.sendError(conn, undefined, err instanceof AppError ? err : new AppError('invalid_request', 'Frame is not valid JSON.'));
      return;
    }
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    const type = typeof frame.type === 'string' ? frame.type : '';
    if (findNul(frame) !== null) return this.sendError(conn, id, new AppError('invalid_request', 'Frames must not contain NUL characters.'));
    const validate = this.validators.get(type);
    this.deps.metrics.wsFramesIn.inc({ type: validate ? type : 'unknown' });
    if (!validate) {
      this.sendError(conn, id, new AppError('invalid_request', `Unknown frame type "${type.slice(0, 40)}".`));
      return;
    }
    if (!validate(frame)) {
      const e = validate.errors?.[0];
      this.sendError(conn, id, new AppError('invalid_request', `Invalid ${type} frame: ${e?.instancePath || '/'} ${e?.message ?? ''}`.trim()));
      return;
    }
    if (type === 'ping') {
      this.sendEvent(conn, id === undefined ? { type: 'pong', cursor: freshCursor() } : { type: 'pong', id, cursor: freshCursor() });
      return;
    }
    if (conn.pending >= MAX_PENDING_FRAMES) {
      this.sendError(conn, id, new AppError('rate_limited', 'Too many frames waiting; slow down.', { retryAfterSeconds: 1 }));
      return;
    }
    conn.pending += 1;
    conn.queue = conn.queue.then(() =>
      this.dispatch(conn, frame as ClientFrame)
        .catch((err: unknown) => this.sendError(conn, id, err))
        .finally(() => (conn.pending -= 1)),
    );
  }

  private async dispatch(conn: Connection, f: ClientFrame): Promise<void> {
    if (conn.closed) return;
    const { userId } = conn;
    const idPart = f.id === undefined ? {} : { id: f.id };
    switch (f.type) {
      case 'message.send': {
        const wait = conn.sends.take();
        if (wait) throw new AppError('rate_limited', 'Too many messages; slow down.', { retryAfterSeconds: wait });
        const { message } = await this.deps.messages.send(userId, {
          conversationId: f.conversationId,
          clientMsgId: f.clientMsgId,
          ...(f.text !== undefined ? { text: f.text } : {}),
          ...(f.attachments ? { attachments: f.attachments } : {}),
          ...(f.replyToId ? { replyToId: f.replyToId } : {}),
        });
        this.sendEvent(conn, { type: 'ack', ...idPart, message });
        return;
      }
      case 'read': {
        const r = await this.deps.conversations.markRead(userId, f.conversationId, f.seq);
        this.sendEvent(conn, { type: 'ack', ...idPart, ...r });
        return;
      }
      case 'typing': {
        const wait = conn.typing.take();
        if (wait) throw new AppError('rate_limited', 'Too many typing frames.', { retryAfterSeconds: wait });
        await this.deps.messages.typing(userId, f.conversationId);
        return;
      }
      case 'resume':
        await this.resume(conn, f);
        return;
      case 'call.signal':
        // No call with this id is visible to the caller until the calls module lands.
        throw new AppError('not_found', 'Call not found.');
      default:
        throw new AppError('invalid_request', 'Unknown frame type.');
    }
  }

  /** Replays what the client missed, then `resumed` with a cursor to resume from next time. */
  private async resume(conn: Connection, f: Extract<ClientFrame, { type: 'resume' }>): Promise<void> {
    const idPart = f.id === undefined ? {} : { id: f.id };
    if (f.cursor) {
      let cursor = f.cursor;
      for (;;) {
        const page = await this.deps.sync.since(conn.userId, cursor, 500);
        for (const e of page.events) this.sendEvent(conn, e);
        if (!page.hasMore || page.cursor === cursor) {
          cursor = page.cursor;
          break;
        }
        cursor = page.cursor;
        if (!(await this.drained(conn))) return;
      }
      this.sendEvent(conn, { type: 'resumed', ...idPart, cursor });
      return;
    }
    const cursor = freshCursor();
    const wanted = Object.entries(f.conversations ?? {});
    // All or nothing: one reply per request id, so a client never mistakes a partial error for the answer.
    for (const [conversationId] of wanted) await this.deps.conversations.requireMember(conn.userId, conversationId);
    for (const [conversationId, lastSeq] of wanted) {
      let from = lastSeq;
      for (;;) {
        const page = await this.deps.sync.afterSeq(conversationId, from, 200);
        for (const e of page.events) this.sendEvent(conn, e);
        if (!page.hasMore) break;
        from = page.lastSeq;
        if (!(await this.drained(conn))) return;
      }
    }
    this.sendEvent(conn, { type: 'resumed', ...idPart, cursor });
  }

  /**
   * Waits until the socket has sent most of what it holds, so a long replay goes at the
   * client's pace instead of tripping the slow-consumer bound. False if it closed meanwhile.
   */
  private async drained(conn: Connection): Promise<boolean> {
    const low = this.deps.config.WS_MAX_BUFFERED_BYTES / 4;
    while (!conn.closed && conn.socket.readyState === conn.socket.OPEN && conn.socket.bufferedAmount > low) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return !conn.closed && conn.socket.readyState === conn.socket.OPEN;
  }

  private async onClose(conn: Connection): Promise<void> {
    conn.closed = true;
    if (!this.conns.delete(conn)) return;
    this.deps.metrics.wsConnections.dec();
    for (const c of [...conn.convs]) this.leave(conn, c);
    const set = this.byUser.get(conn.userId);
    set?.delete(conn);
    if (set && set.size === 0) {
      this.byUser.delete(conn.userId);
      this.unsubscribe(userTopic(conn.userId));
    }
    if (!this.stopping) {
      await this.deps.presence.disconnected(conn.userId, conn.id).catch((err: unknown) => this.deps.logger.warn({ err }, 'presence update failed'));
    }
  }

  /** Bus connection came back: events may have been dropped, so clients resume. */
  private broadcastResync(): void {
    const bytes = Buffer.from(JSON.stringify({ type: 'sync.required' }));
    for (const c of this.conns) this.write(c, bytes);
  }

  /** Pings every socket; one that did not answer the last ping is dropped. Renews presence. */
  start(): void {
    const every = this.deps.config.WS_HEARTBEAT_INTERVAL * 1000;
    const presenceEvery = Math.min(every, (this.deps.config.PRESENCE_TTL * 1000) / 3);
    this.heartbeat = setInterval(() => {
      for (const c of this.conns) {
        if (!c.alive) {
          c.socket.terminate();
          continue;
        }
        c.alive = false;
        c.socket.ping();
      }
    }, every);
    this.heartbeat.unref();
    const renew = setInterval(() => {
      for (const c of this.conns) void this.deps.presence.heartbeat(c.userId, c.id).catch(() => {});
    }, presenceEvery);
    renew.unref();
    this.presenceTimer = renew;
    this.deps.presence.startReaper();
  }

  private presenceTimer: NodeJS.Timeout | undefined;

  /** Graceful stop: refuse new upgrades, close sockets with 1012 so clients reconnect elsewhere. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    clearInterval(this.presenceTimer);
    this.deps.presence.stopReaper();
    const all = [...this.conns];
    const closing = all.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.socket.once('close', () => resolve());
          c.socket.close(CLOSE_GOING_AWAY_RESTART, 'server restarting');
          setTimeout(() => {
            c.socket.terminate();
            resolve();
          }, 2000).unref();
        }),
    );
    await Promise.all(closing);
    // Each socket's close handler skips presence while stopping; say goodbye for all of them here.
    await Promise.all(all.map((c) => this.deps.presence.disconnected(c.userId, c.id).catch(() => {})));
    for (const c of [...this.conns]) await this.onClose(c);
    this.wss.close();
  }
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ error: { code: status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : 'unavailable', message: text } });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
