/**
 * The WebSocket gateway (`GET /v1/ws`), split the way Centrifuge splits it:
 * - hub.ts: sessions and the topics they hear (one bus subscription per topic);
 * - session.ts: one client's state, limits and bounded writer;
 * - transport.ts: the upgrade (authenticated before it), connection caps, heartbeat;
 * - handlers.ts: frames, validated with the REST schemas, calling the services.
 * This file wires them and owns the connection lifecycle. Protocol: docs/websocket.md.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError, unauthorized } from '../../errors.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Bus } from '../../platform/bus/index.js';
import { userTopic } from '../../platform/bus/index.js';
import type { AuthService } from '../../modules/auth/auth.service.js';
import type { RateLimiter } from '../../modules/auth/rate-limiter.js';
import type { UsersService } from '../../modules/users/users.service.js';
import type { ConversationsService } from '../../modules/conversations/conversations.service.js';
import type { MessagesService } from '../../modules/messages/messages.service.js';
import type { PresenceService } from '../../modules/presence/presence.service.js';
import type { SyncService } from '../../modules/sync/sync.service.js';
import type { Metrics } from '../metrics.js';
import { FrameHandlers, type CallSignals } from './handlers.js';
import { Hub } from './hub.js';
import { CLOSE_GOING_AWAY_RESTART, CLOSE_POLICY, ClientSession, type SessionEnv } from './session.js';
import { WsTransport } from './transport.js';

export type { CallSignals } from './handlers.js';
export { MAX_FRAME_BYTES } from './transport.js';

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
  /** The per-user rate limiter the REST routes use too. */
  limiter: RateLimiter;
  /** Where `call.signal` frames go; without it they answer `not_found`. */
  calls?: CallSignals;
  /** Told of every valid client frame but pings: a connected user who sends nothing else is idle and gets pushes. */
  activity?: { touch(userId: string): void };
}

export class WsGateway {
  private readonly hub: Hub;
  private readonly handlers: FrameHandlers;
  private readonly transport: WsTransport;
  private readonly env: SessionEnv;
  /** Sessions whose socket was upgraded (counted in the connections gauge). */
  private readonly opened = new WeakSet<ClientSession>();
  private presenceTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly deps: WsDeps) {
    const { config } = deps;
    this.env = {
      logger: deps.logger,
      metrics: deps.metrics,
      limits: { maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES, ping: config.RATE_LIMIT_WS_PING, resume: config.RATE_LIMIT_WS_RESUME },
    };
    this.hub = new Hub(deps.bus, deps.logger);
    this.handlers = new FrameHandlers({
      config,
      metrics: deps.metrics,
      limiter: deps.limiter,
      conversations: deps.conversations,
      messages: deps.messages,
      sync: deps.sync,
      ...(deps.calls ? { calls: deps.calls } : {}),
      ...(deps.activity ? { activity: deps.activity } : {}),
    });
    this.transport = new WsTransport({
      stopping: () => this.stopping,
      prepare: (token) => this.prepare(token),
      onFrame: (s, data, isBinary) => this.handlers.handle(s, data, isBinary),
      onClose: (s) => void this.onClose(s),
      onError: (s, err) => deps.logger.debug({ err, conn: s.id }, 'websocket error'),
    });
    // Bus connection came back: events may have been dropped, so clients resume.
    deps.bus.onReconnect(() => this.hub.broadcast(Buffer.from(JSON.stringify({ type: 'sync.required' }))));
  }

  /** Handles an HTTP upgrade on `/v1/ws`; anything else is refused. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.transport.handleUpgrade(req, socket, head);
  }

  /** Open sessions on this gateway (tests, diagnostics). */
  sessions(): ClientSession[] {
    return this.hub.all();
  }

  /**
   * Everything a connection needs before `ready`, run together once the token's signature
   * holds: the session check (`authenticate`), the user's profile, and the subscriptions
   * (user topic first, so a membership change during setup is not missed, then every
   * conversation). Fails as a whole, leaving nothing subscribed.
   */
  private async prepare(token: string): Promise<{ session: ClientSession; open: () => void }> {
    const { config, conversations, users } = this.deps;
    const claimed = await this.deps.auth.verifyAccessToken(token);
    if (this.hub.countOfUser(claimed.userId) >= config.WS_MAX_CONNECTIONS_PER_USER) {
      throw new AppError('rate_limited', 'Too many connections for this user.', { retryAfterSeconds: 5 });
    }
    const session = new ClientSession(claimed.userId, claimed.sessionId, this.env);
    this.hub.add(session);
    let cursor: string;
    let user: Awaited<ReturnType<UsersService['me']>>;
    try {
      // Taken before subscribing: a client resuming from it misses nothing published meanwhile.
      cursor = await this.deps.sync.freshCursor({ live: true });
      const [auth, , me] = await Promise.all([
        this.deps.auth.authenticate(token),
        this.hub
          .join(session, userTopic(session.userId))
          .then(() => conversations.repo.conversationIdsOf(session.userId))
          .then((ids) => this.hub.subscribe(session, ids)),
        users.me(session.userId),
      ]);
      if (auth.userId !== session.userId || auth.sessionId !== session.sessionId) throw unauthorized();
      user = me;
    } catch (err) {
      this.hub.remove(session);
      throw err;
    }
    const open = () => {
      this.opened.add(session);
      this.deps.metrics.wsConnections.inc();
      // One device holds a few connections at most: a newer one replaces the oldest.
      const same = this.hub.ofAuthSession(session.sessionId).filter((s) => s !== session && !s.closed);
      for (const old of same.slice(0, Math.max(0, same.length + 1 - config.WS_MAX_CONNECTIONS_PER_SESSION))) {
        old.close(CLOSE_POLICY, 'too many connections for this session');
      }
      session.ready({ type: 'ready', user, sessionId: session.sessionId, cursor, serverTime: new Date().toISOString() });
      this.deps.activity?.touch(session.userId);
      this.deps.presence.connected(session.userId, session.id).catch((err: unknown) => this.deps.logger.warn({ err }, 'presence update failed'));
    };
    return { session, open };
  }

  private async onClose(s: ClientSession): Promise<void> {
    if (!this.hub.remove(s)) return;
    if (!this.opened.has(s)) return;
    this.deps.metrics.wsConnections.dec();
    if (!this.stopping) {
      await this.deps.presence.disconnected(s.userId, s.id).catch((err: unknown) => this.deps.logger.warn({ err }, 'presence update failed'));
    }
  }

  /** Starts the heartbeat pings and the presence renewal. */
  start(): void {
    const { config, presence } = this.deps;
    const every = config.WS_HEARTBEAT_INTERVAL * 1000;
    this.transport.startHeartbeat(every, () => this.hub.all());
    const presenceEvery = Math.min(every, (config.PRESENCE_TTL * 1000) / 3);
    this.presenceTimer = setInterval(() => {
      for (const s of this.hub.all()) if (this.opened.has(s)) void presence.heartbeat(s.userId, s.id).catch(() => {});
    }, presenceEvery);
    this.presenceTimer.unref();
    presence.startReaper();
  }

  /** Graceful stop: refuse new upgrades, close sockets with 1012 so clients reconnect elsewhere. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.presenceTimer);
    this.deps.presence.stopReaper();
    const all = this.hub.all().filter((s) => this.opened.has(s));
    await this.transport.closeAll(all, CLOSE_GOING_AWAY_RESTART, 'server restarting');
    // Each socket's close handler skips presence while stopping; say goodbye for all of them here.
    await Promise.all(all.map((s) => this.deps.presence.disconnected(s.userId, s.id).catch(() => {})));
    await this.deps.presence.flush();
    for (const s of this.hub.all()) await this.onClose(s);
    this.hub.close();
  }
}
