/**
 * One client connection: who it is, what it is subscribed to, its per-connection limits,
 * and the bounded writer every byte to it goes through. Knows nothing of services.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import type { RateLimit } from '../../config.js';
import type { ServerEvent } from '../../../sdk/types.js';
import { mapError } from '../error-mapping.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../metrics.js';
import type { EncodedEvent } from './frame.js';

export const CLOSE_POLICY = 1008;
export const CLOSE_GOING_AWAY_RESTART = 1012;
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** Most events held for a connection before its `ready` went out. */
const MAX_EARLY_EVENTS = 10_000;

/** A fixed-window counter for limits that belong to one connection (it lives on one process). */
export class WindowCounter {
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

export interface SessionLimits {
  maxBufferedBytes: number;
  ping: RateLimit;
  resume: RateLimit;
}

/** What the writer needs from the process (shared by every session). */
export interface SessionEnv {
  logger: Logger;
  metrics: Metrics;
  limits: SessionLimits;
}

/** A client connection's state; the hub indexes it, the handlers act for it. */
export class ClientSession {
  readonly id = randomUUID();
  /** Topics (`conv:…`, `user:…`) the hub holds for this session. */
  readonly topics = new Set<string>();
  /** Answered the last heartbeat ping. */
  alive = true;
  closed = false;
  /**
   * Frames are handled one after another, so acks and seqs follow the client's order:
   * settles when every frame so far has been handled and answered.
   */
  settled: Promise<void> = Promise.resolve();
  /**
   * Settles when the next `message.send` may start: consecutive sends are pipelined (each
   * starts once the one before has its place in the store's order, not once it committed),
   * and their answers still go out in order. Any other frame waits for `settled`.
   */
  sendGate: Promise<void> = Promise.resolve();
  /** Frames waiting or being handled (bounded: a client cannot pile up unbounded work). */
  pending = 0;
  /** A `resume` is queued or replaying: at most one per connection. */
  resumeInFlight = false;
  /** Frames refused by a limit (diagnostics and tests). */
  refused = 0;
  /** Event frames written to the socket. */
  framesOut = 0;
  readonly pings: WindowCounter;
  readonly resumes: WindowCounter;
  /** Events that arrived before `ready` went out; flushed right after it. */
  private early: Buffer[] | null = [];

  /** Null until the upgrade completes: the session subscribes while its auth is checked. */
  private ws: WebSocket | null = null;

  constructor(
    readonly userId: string,
    readonly sessionId: string,
    private readonly env: SessionEnv,
  ) {
    this.pings = new WindowCounter(env.limits.ping);
    this.resumes = new WindowCounter(env.limits.resume);
  }

  /** The upgraded socket (set once, by the transport). */
  get socket(): WebSocket {
    if (!this.ws) throw new Error('session has no socket yet');
    return this.ws;
  }

  /**
   * `tcp`: the upgraded connection under `ws`. The writer corks it for the rest of the
   * current turn of the event loop, so every frame this session gets in that turn leaves in
   * one write: a burst of messages that came in one read from the bus costs each socket one
   * syscall instead of one per message (on loopback a write syscall also runs the receiving
   * side's TCP stack; it was most of a gateway's CPU in `npm run bench`). A fan-out's
   * frames, built once for every session (`writeEncoded`), are written to it directly.
   */
  attach(ws: WebSocket, tcp?: Pick<Duplex, 'cork' | 'uncork' | 'write'>): void {
    this.ws = ws;
    this.tcp = tcp ?? null;
  }

  private tcp: Pick<Duplex, 'cork' | 'uncork' | 'write'> | null = null;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.tcp?.uncork();
  };

  get open(): boolean {
    return !this.closed && this.ws !== null && this.ws.readyState === this.ws.OPEN;
  }

  /** Sends `ready` first (the contract), then what arrived while the session was being set up. */
  ready(event: ServerEvent): void {
    const early = this.early ?? [];
    this.early = null;
    this.sendEvent(event);
    for (const bytes of early) this.write(bytes);
  }

  /**
   * The bounded writer: every byte to the client goes through here. A reader so far behind
   * that its buffer passes the bound is dropped; it reconnects and resumes from its cursor.
   */
  write(bytes: Buffer): void {
    if (this.admit(bytes)) this.socket.send(bytes, { binary: false });
  }

  /**
   * `write` for an event encoded once for many sessions (the hub's fan-out): its frame goes
   * straight to the connection, in order with what `ws` itself writes there (with
   * compression off, as it is, `ws` writes every frame at once, never from a queue).
   */
  writeEncoded(e: EncodedEvent): void {
    if (!this.admit(e.payload)) return;
    if (this.tcp) this.tcp.write(e.frame);
    else this.socket.send(e.payload, { binary: false });
  }

  /** True when `bytes` may go out now (the socket is corked for this turn); held before `ready`, dropped when closed or too far behind. */
  private admit(bytes: Buffer): boolean {
    if (this.closed) return false;
    if (this.early) {
      this.early.push(bytes);
      if (this.early.length > MAX_EARLY_EVENTS) this.close(CLOSE_TRY_AGAIN_LATER, 'too much before ready');
      return false;
    }
    if (!this.open) return false;
    if (this.socket.bufferedAmount + bytes.length > this.env.limits.maxBufferedBytes) {
      this.env.metrics.wsSlowClosed.inc();
      this.closed = true;
      this.socket.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer');
      setTimeout(() => this.socket.terminate(), 1000).unref();
      return false;
    }
    this.env.metrics.wsEventsOut.inc();
    this.framesOut += 1;
    if (this.tcp && !this.corked) {
      this.corked = true;
      this.tcp.cork();
      process.nextTick(this.uncork);
    }
    return true;
  }

  sendEvent(event: ServerEvent): void {
    this.write(Buffer.from(JSON.stringify(event)));
  }

  /** An `error` frame with the stable code of `err` (the one mapping REST uses too). */
  sendError(id: string | undefined, err: unknown): void {
    const m = mapError(err);
    if (m.unexpected) this.env.logger.error({ err, conn: this.id }, 'websocket frame failed');
    if (m.code === 'rate_limited') this.refused += 1;
    const frame: ServerEvent = { type: 'error', code: m.code, message: m.message };
    if (id !== undefined) frame.id = id;
    if (m.retryAfterSeconds !== undefined) frame.retryAfter = m.retryAfterSeconds;
    this.sendEvent(frame);
  }

  /** Closes the socket; before the upgrade, marks the session so the transport refuses it. */
  close(code: number, reason: string): void {
    if (this.ws) this.ws.close(code, reason);
    else this.closed = true;
  }

  /**
   * Waits until the socket has sent most of what it holds, so a long replay goes at the
   * client's pace instead of tripping the slow-consumer bound. False if it closed meanwhile.
   */
  async drained(): Promise<boolean> {
    const low = this.env.limits.maxBufferedBytes / 4;
    while (this.open && this.socket.bufferedAmount > low) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.open;
  }
}
