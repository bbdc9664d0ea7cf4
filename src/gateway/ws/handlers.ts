/**
 * Frame handlers: parse, validate (with the schemas shared with the REST routes), apply
 * the frame type's limit, and call the same service methods the REST routes call. No
 * rules live here.
 */
import type { RawData } from 'ws';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError, notFound } from '../../errors.js';
import type { Config, RateLimit } from '../../config.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter, UserAction } from '../../modules/auth/rate-limiter.js';
import type { ConversationsService } from '../../modules/conversations/conversations.service.js';
import type { MessagesService } from '../../modules/messages/messages.service.js';
import type { SyncService } from '../../modules/sync/sync.service.js';
import { convTopic } from '../../platform/bus/index.js';
import { CLIENT_FRAME_SCHEMAS, type ClientFrame, type ClientFrameType } from './frames.schemas.js';
import type { ClientSession } from './session.js';

/**
 * Where `call.signal` frames go (the calls module implements it). `signal` throws
 * `not_found` when the caller may not signal that call or peer.
 */
export interface CallSignals {
  signal(userId: string, input: { callId: string; to: string; data: unknown }): Promise<void>;
}

export interface FrameHandlerDeps {
  config: Config;
  metrics: Metrics;
  limiter: RateLimiter;
  conversations: ConversationsService;
  messages: MessagesService;
  sync: SyncService;
  calls?: CallSignals;
  /** Told of every valid client frame but pings (notifications treat a user who sends nothing as idle). */
  activity?: { touch(userId: string): void };
}

/** Most frames a connection may have waiting to be handled. */
export const MAX_PENDING_FRAMES = 256;

type ResumeFrame = Extract<ClientFrame, { type: 'resume' }>;

export class FrameHandlers {
  private readonly validators = new Map<string, ValidateFunction>();
  /** Frame types budgeted per user (shared with REST and every connection of the user). */
  private readonly userLimits: Partial<Record<ClientFrameType, { action: UserAction; limit: RateLimit; what: string }>>;

  constructor(private readonly deps: FrameHandlerDeps) {
    // The options of the REST body validator (gateway/http.ts): JSON types are not coerced.
    const ajv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
    addFormats.default(ajv);
    for (const [type, schema] of Object.entries(CLIENT_FRAME_SCHEMAS)) this.validators.set(type, ajv.compile(schema));
    const c = deps.config;
    this.userLimits = {
      'message.send': { action: 'send', limit: c.RATE_LIMIT_WS_SEND, what: 'messages' },
      typing: { action: 'typing', limit: c.RATE_LIMIT_WS_TYPING, what: 'typing frames' },
      read: { action: 'read', limit: c.RATE_LIMIT_READ, what: 'read updates' },
      'call.signal': { action: 'signal', limit: c.RATE_LIMIT_CALL_SIGNAL, what: 'call signals' },
    };
  }

  /** One frame from the client: answered at once (ping, refusals) or queued in order. */
  handle(s: ClientSession, data: RawData, isBinary: boolean): void {
    let frame: Record<string, unknown>;
    try {
      if (isBinary) throw new AppError('invalid_request', 'Frames are JSON text.');
      const parsed: unknown = JSON.parse(data.toString());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('invalid_request', 'A frame is a JSON object.');
      frame = parsed as Record<string, unknown>;
    } catch (err) {
      s.sendError(undefined, err instanceof AppError ? err : new AppError('invalid_request', 'Frame is not valid JSON.'));
      return;
    }
    const id = typeof frame.id === 'string' ? frame.id.slice(0, 128) : undefined;
    const type = typeof frame.type === 'string' ? frame.type : '';
    const validate = this.validators.get(type);
    this.deps.metrics.wsFramesIn.inc({ type: validate ? type : 'unknown' });
    if (!validate) {
      s.sendError(id, new AppError('invalid_request', `Unknown frame type "${type.slice(0, 40)}".`));
      return;
    }
    // Validated first, as the REST routes validate bodies before counting against a budget.
    if (!validate(frame)) return s.sendError(id, invalidFrame(type, validate));
    if (type !== 'ping') this.deps.activity?.touch(s.userId);
    // Connection-scoped limits are checked here, synchronously: refusing costs no I/O.
    if (type === 'ping' || type === 'resume') {
      const wait = type === 'ping' ? s.pings.take() : s.resumeInFlight ? 1 : s.resumes.take();
      if (wait) {
        const what = type === 'ping' ? 'Too many pings.' : s.resumeInFlight ? 'A resume is already in progress on this connection.' : 'Too many resumes.';
        return s.sendError(id, new AppError('rate_limited', what, { retryAfterSeconds: wait }));
      }
      if (type === 'ping') {
        // Answered beside the frame queue, as soon as the cursor's snapshot is read.
        this.deps.sync.freshCursor({ live: true }).then(
          (cursor) => s.sendEvent(id === undefined ? { type: 'pong', cursor } : { type: 'pong', id, cursor }),
          (err: unknown) => s.sendError(id, err),
        );
        return;
      }
      s.resumeInFlight = true;
      this.enqueue(s, id, () => this.resume(s, frame as ResumeFrame), () => (s.resumeInFlight = false));
      return;
    }
    const f = frame as ClientFrame;
    if (f.type === 'message.send') return this.enqueueSend(s, id, f);
    this.enqueue(s, id, async () => {
      await this.spend(s, f);
      await this.dispatch(s, f);
    });
  }

  /** Per-user budgets, shared with REST and every other connection of the user. */
  private async spend(s: ClientSession, f: ClientFrame): Promise<void> {
    const budget = this.userLimits[f.type];
    if (budget) await this.deps.limiter.user(s.userId, budget.action, budget.limit, budget.what);
  }

  /** Room for one more frame of `s`; if there is none, refuses it (true). */
  private full(s: ClientSession, id: string | undefined): boolean {
    if (s.pending < MAX_PENDING_FRAMES) return false;
    s.sendError(id, new AppError('rate_limited', 'Too many frames waiting; slow down.', { retryAfterSeconds: 1 }));
    return true;
  }

  /** Runs `work` after the connection's earlier frames (and their answers); errors become `error` frames. */
  private enqueue(s: ClientSession, id: string | undefined, work: () => Promise<void>, after?: () => void): void {
    if (this.full(s, id)) return after?.();
    s.pending += 1;
    s.settled = s.settled.then(() =>
      (s.closed ? Promise.resolve() : work())
        .catch((err: unknown) => s.sendError(id, err))
        .finally(() => {
          s.pending -= 1;
          after?.();
        }),
    );
    s.sendGate = s.settled;
  }

  /**
   * A `message.send`, pipelined with the connection's sends before it: it starts as soon as
   * the previous one has its place in the store's order (MessagesService.send `queued`),
   * so a client with many sends in flight gets them stored together (group commit) rather
   * than one commit after another. Its seq still follows the client's order, and its answer
   * (ack or error) goes out after every earlier frame's.
   */
  private enqueueSend(s: ClientSession, id: string | undefined, f: Extract<ClientFrame, { type: 'message.send' }>): void {
    if (this.full(s, id)) return;
    s.pending += 1;
    const before = s.settled;
    let release!: () => void;
    const queued = new Promise<void>((r) => (release = r));
    // The budget is counted at once, beside the earlier sends (a burst's counts go to the
    // store together); only the hand-over to the store waits for the earlier sends.
    const spent = this.spend(s, f);
    spent.catch(() => {});
    const result = s.sendGate.then(async () => {
      await spent;
      if (s.closed) return null;
      return this.deps.messages.send(
        s.userId,
        {
          conversationId: f.conversationId,
          clientMsgId: f.clientMsgId,
          ...(f.text !== undefined ? { text: f.text } : {}),
          ...(f.attachments ? { attachments: f.attachments } : {}),
          ...(f.replyToId ? { replyToId: f.replyToId } : {}),
          ...(f.threadRootId ? { threadRootId: f.threadRootId } : {}),
        },
        { queued: release },
      );
    });
    const finished = result.then(
      () => undefined,
      () => undefined,
    );
    s.sendGate = Promise.race([queued, finished]);
    s.settled = Promise.all([before, finished])
      .then(() =>
        result.then(
          (r) => {
            if (r) s.sendEvent({ type: 'ack', ...(f.id === undefined ? {} : { id: f.id }), message: r.message });
          },
          (err: unknown) => s.sendError(id, err),
        ),
      )
      .finally(() => {
        s.pending -= 1;
      });
  }

  private async dispatch(s: ClientSession, f: ClientFrame): Promise<void> {
    const { userId } = s;
    const idPart = f.id === undefined ? {} : { id: f.id };
    switch (f.type) {
      case 'read': {
        const r = await this.deps.conversations.markRead(userId, f.conversationId, f.seq);
        s.sendEvent({ type: 'ack', ...idPart, ...r });
        return;
      }
      case 'typing':
        // Membership carried by the subscription: a session hears a conversation only as a member.
        await this.deps.messages.typing(userId, f.conversationId, s.topics.has(convTopic(f.conversationId)));
        return;
      case 'call.signal':
        if (!this.deps.calls) throw notFound('Call not found.');
        await this.deps.calls.signal(userId, { callId: f.callId, to: f.to, data: f.data });
        return;
      default:
        throw new AppError('invalid_request', 'Unknown frame type.');
    }
  }

  /**
   * Replays what the client missed, then `resumed` with a cursor to resume from next time.
   * One replay does at most WS_RESUME_MAX_EVENTS events; past that it answers `hasMore`.
   */
  private async resume(s: ClientSession, f: ResumeFrame): Promise<void> {
    const idPart = f.id === undefined ? {} : { id: f.id };
    const budget = this.deps.config.WS_RESUME_MAX_EVENTS;
    let sent = 0;
    if (f.cursor) {
      let cursor = f.cursor;
      for (;;) {
        const page = await this.deps.sync.since(s.userId, cursor, Math.min(500, budget - sent));
        for (const e of page.events) s.sendEvent(e);
        sent += page.events.length;
        const advanced = page.cursor !== cursor;
        cursor = page.cursor;
        if (!page.hasMore || !advanced) break;
        if (sent >= budget) {
          s.sendEvent({ type: 'resumed', ...idPart, cursor, hasMore: true });
          return;
        }
        if (!(await s.drained())) return;
      }
      s.sendEvent({ type: 'resumed', ...idPart, cursor });
      return;
    }
    const cursor = await this.deps.sync.freshCursor({ live: true });
    const wanted = Object.entries(f.conversations ?? {});
    // All or nothing: one reply per request id, so a client never mistakes a partial error for the answer.
    for (const [conversationId] of wanted) await this.deps.conversations.requireMember(s.userId, conversationId);
    for (const [conversationId, lastSeq] of wanted) {
      let from = lastSeq;
      for (;;) {
        if (sent >= budget) {
          // The client resumes again with the last seq it got of each conversation.
          s.sendEvent({ type: 'resumed', ...idPart, cursor, hasMore: true });
          return;
        }
        const page = await this.deps.sync.afterSeq(conversationId, from, Math.min(200, budget - sent));
        for (const e of page.events) s.sendEvent(e);
        sent += page.events.length;
        if (!page.hasMore) break;
        from = page.lastSeq;
        if (!(await s.drained())) return;
      }
    }
    s.sendEvent({ type: 'resumed', ...idPart, cursor });
  }
}

function invalidFrame(type: string, validate: ValidateFunction): AppError {
  const e = validate.errors?.[0];
  return new AppError('invalid_request', `Invalid ${type} frame: ${e?.instancePath || '/'} ${e?.message ?? ''}`.trim());
}
