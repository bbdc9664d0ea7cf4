/**
 * The transport: the HTTP upgrade on `/v1/ws` (authenticated before it, with the session
 * check, the subscriptions and the profile read run together), connection caps, the
 * heartbeat ping, and the socket events that feed the handlers.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { mapError } from '../error-mapping.js';
import { CLOSE_POLICY, CLOSE_TRY_AGAIN_LATER, type ClientSession } from './session.js';

export const MAX_FRAME_BYTES = 64 * 1024;

/** Extracts the access token from `?token=` or a `bearer.<token>` subprotocol. */
export function tokenOf(req: IncomingMessage): string | null {
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams.get('token');
  if (q) return q;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  const bearer = protocols.find((p) => p.startsWith('bearer.'));
  return bearer ? bearer.slice('bearer.'.length) : null;
}

/** What happens around an upgrade; the gateway supplies it. */
export interface TransportHooks {
  /** True while the gateway refuses new connections (shutting down). */
  stopping(): boolean;
  /**
   * Authenticates the token and prepares a session (subscriptions, profile) at the same
   * time. Resolves with the session and a function that sends `ready`, or rejects (then
   * nothing of the session is left behind).
   */
  prepare(token: string): Promise<{ session: ClientSession; open: () => void }>;
  /** Called with every socket event of an open session. */
  onFrame(s: ClientSession, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void;
  onClose(s: ClientSession): void;
  onError(s: ClientSession, err: Error): void;
}

/** The WebSocket server and its heartbeat. */
export class WsTransport {
  private readonly wss: WebSocketServer;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly hooks: TransportHooks) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false, // the hub tracks the sessions; a second set would only cost memory per connection
      maxPayload: MAX_FRAME_BYTES, // larger frames close the connection with 1009
      perMessageDeflate: false, // compression costs CPU per socket and defeats encode-once fan-out
      handleProtocols: (protocols) => {
        // Browsers need one of the offered protocols echoed back; prefer a non-token one.
        const list = [...protocols];
        return list.find((p) => !p.startsWith('bearer.')) ?? list[0] ?? false;
      },
    });
  }

  /** Handles an HTTP upgrade on `/v1/ws`; anything else is refused. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node drops its own error handler on upgraded sockets and `ws` adds one only inside
    // handleUpgrade: without this, a client resetting the connection during the
    // asynchronous auth below would crash the process with an unhandled 'error'. A function
    // of the module, not a closure: a closure here would share this call's scope with the
    // callbacks below and keep `req` and `head` alive as long as the socket (KiBs per
    // connection).
    socket.on('error', destroySocket);
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/ws' || this.hooks.stopping()) {
      rejectUpgrade(socket, this.hooks.stopping() ? 503 : 404);
      return;
    }
    const token = tokenOf(req);
    if (!token) {
      rejectUpgrade(socket, 401);
      return;
    }
    this.hooks.prepare(token).then(
      ({ session, open }) => {
        if (socket.destroyed || session.closed || this.hooks.stopping()) {
          this.hooks.onClose(session);
          if (!socket.destroyed) rejectUpgrade(socket, session.closed ? 401 : 503);
          return;
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, socket, session, open));
      },
      (err: unknown) => {
        const m = mapError(err);
        rejectUpgrade(socket, m.status === 429 ? 429 : m.status === 500 ? 500 : m.status === 503 ? 503 : 401, m.retryAfterSeconds);
      },
    );
  }

  private attach(ws: WebSocket, tcp: Duplex, s: ClientSession, open: () => void): void {
    s.attach(ws, tcp);
    ws.on('pong', () => (s.alive = true));
    ws.on('message', (data, isBinary) => this.hooks.onFrame(s, data, isBinary));
    ws.on('close', () => this.hooks.onClose(s));
    ws.on('error', (err) => this.hooks.onError(s, err));
    open();
  }

  /** Pings every socket each `everyMs`; one that did not answer the last ping is dropped. */
  startHeartbeat(everyMs: number, sessions: () => Iterable<ClientSession>): void {
    this.heartbeat = setInterval(() => {
      for (const s of sessions()) {
        if (!s.open) continue;
        if (!s.alive) {
          s.socket.terminate();
          continue;
        }
        s.alive = false;
        s.socket.ping();
      }
    }, everyMs);
    this.heartbeat.unref();
  }

  /** Closes every given session with `code` and waits (bounded) for them to go. */
  async closeAll(sessions: readonly ClientSession[], code: number, reason: string): Promise<void> {
    clearInterval(this.heartbeat);
    await Promise.all(
      sessions.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.open) return resolve();
            s.socket.once('close', () => resolve());
            s.socket.close(code, reason);
            setTimeout(() => {
              s.socket.terminate();
              resolve();
            }, 2000).unref();
          }),
      ),
    );
    this.wss.close();
  }
}

export { CLOSE_POLICY, CLOSE_TRY_AGAIN_LATER };

const STATUS_TEXT: Record<number, [string, string]> = {
  401: ['Unauthorized', 'unauthorized'],
  404: ['Not Found', 'not_found'],
  429: ['Too Many Requests', 'rate_limited'],
  500: ['Internal Server Error', 'internal'],
  503: ['Service Unavailable', 'unavailable'],
};

function destroySocket(this: Duplex): void {
  this.destroy();
}

function rejectUpgrade(socket: Duplex, status: number, retryAfterSeconds?: number): void {
  const [text, code] = STATUS_TEXT[status] ?? STATUS_TEXT[401]!;
  const body = JSON.stringify({ error: { code, message: text } });
  const retry = retryAfterSeconds !== undefined ? `Retry-After: ${retryAfterSeconds}\r\n` : '';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
