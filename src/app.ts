/**
 * The composition root: opens each port's adapter (chosen once from configuration),
 * builds the services, and starts the requested roles. Everything the process runs is
 * created here and stopped by `stop()` in reverse order.
 */
import type { AddressInfo } from 'node:net';
import type { Config, Role } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { openSqlDatabase, type SqlDatabase } from './platform/sql/index.js';
import { migrate } from './platform/sql/migrator.js';
import { openKeyValueStore, type KeyValueStore } from './platform/kv/index.js';
import { openBus, type Bus } from './platform/bus/index.js';
import { openPresenceStore, type PresenceStore } from './platform/presence/index.js';
import { openMessageStore, type MessageStore } from './platform/message-store/index.js';
import { WsGateway } from './gateway/ws/index.js';
import { Realtime } from './modules/realtime/realtime.js';
import { RateLimiter } from './modules/auth/rate-limiter.js';
import { ConversationsService } from './modules/conversations/conversations.service.js';
import { ConversationsRepository } from './modules/conversations/conversations.repository.js';
import { registerConversationsRoutes } from './modules/conversations/conversations.routes.js';
import { MessageViews } from './modules/messages/message.view.js';
import { MessagesService } from './modules/messages/messages.service.js';
import { registerMessagesRoutes } from './modules/messages/messages.routes.js';
import { SendRepository } from './modules/messages/send.repository.js';
import { SendBatcher } from './modules/messages/send.batcher.js';
import { OutboxRelay } from './modules/outbox/outbox.relay.js';
import { OutboxRepository } from './modules/outbox/outbox.repository.js';
import { PresenceService } from './modules/presence/presence.service.js';
import { SyncService } from './modules/sync/sync.service.js';
import { registerSyncRoutes } from './modules/sync/sync.routes.js';
import { openJobQueue, type JobQueue } from './platform/jobs/index.js';
import { startWorkers } from './workers/index.js';
import { createMediaModule } from './modules/media/media.module.js';
import { registerMediaJobHandlers } from './workers/media-thumbnail.worker.js';
import { createHttpApp, makeRequireAuth, registerHealthRoutes, type HttpApp } from './gateway/http.js';
import { Metrics } from './gateway/metrics.js';
import { AccessTokens, resolveJwtSecret } from './modules/auth/tokens.js';
import { AuthService } from './modules/auth/auth.service.js';
import { registerAuthRoutes } from './modules/auth/auth.routes.js';
import { UsersRepository } from './modules/users/users.repository.js';
import { UsersService } from './modules/users/users.service.js';
import { registerUsersRoutes } from './modules/users/users.routes.js';
import { DevicesRepository } from './modules/devices/devices.repository.js';
import { DevicesService } from './modules/devices/devices.service.js';
import { registerDevicesRoutes } from './modules/devices/devices.routes.js';
import { registerWebClient } from './gateway/web.js';
import { SearchService } from './modules/search/search.service.js';
import { registerSearchRoutes } from './modules/search/search.routes.js';
import { BlocksRepository } from './modules/blocks/blocks.repository.js';
import { BlocksService } from './modules/blocks/blocks.service.js';
import { registerBlocksRoutes } from './modules/blocks/blocks.routes.js';
import { PinsRepository } from './modules/pins/pins.repository.js';
import { PinsService } from './modules/pins/pins.service.js';
import { registerPinsRoutes } from './modules/pins/pins.routes.js';
import { MessageEditsRepository } from './modules/messages/message-edits.repository.js';
import { ReportsRepository } from './modules/moderation/reports.repository.js';
import { ModerationService } from './modules/moderation/moderation.service.js';
import { registerModerationRoutes } from './modules/moderation/moderation.routes.js';
import { ThreadsRepository } from './modules/threads/threads.repository.js';
import { ThreadsService } from './modules/threads/threads.service.js';
import { registerThreadsRoutes } from './modules/threads/threads.routes.js';
import { openPushSenders } from './platform/push/index.js';
import { openMailer } from './platform/mail/index.js';
import { ActivityService } from './modules/notifications/activity.service.js';
import { SignedLinks } from './modules/notifications/notifications.links.js';
import { NotificationsRepository } from './modules/notifications/notifications.repository.js';
import { NotificationsService } from './modules/notifications/notifications.service.js';
import { registerNotificationsRoutes } from './modules/notifications/notifications.routes.js';
import { MentionsRepository } from './modules/notifications/mentions.repository.js';
import { MentionsService } from './modules/notifications/mentions.service.js';
import { AccountEmailService } from './modules/auth/account-email.service.js';
import { registerAccountEmailRoutes } from './modules/auth/account-email.routes.js';
import { openRtcProviders } from './platform/rtc/index.js';
import { CallsService } from './modules/calls/calls.service.js';
import { registerCallsRoutes } from './modules/calls/calls.routes.js';
import { registerCallWebhooks } from './modules/calls/calls.webhooks.js';
import { LinksRepository } from './modules/links/links.repository.js';
import { LinksService } from './modules/links/links.service.js';
import { registerLinksRoutes } from './modules/links/links.routes.js';
import { linksPreviewWorker } from './workers/links-preview.worker.js';

export interface Platform {
  sql: SqlDatabase;
  kv: KeyValueStore;
  bus: Bus;
  presence: PresenceStore;
  messages: MessageStore;
  jobs: JobQueue;
}

export interface Services {
  auth: AuthService;
  users: UsersService;
  devices: DevicesService;
  conversations: ConversationsService;
  messages: MessagesService;
  presence: PresenceService;
  sync: SyncService;
  search: SearchService;
  blocks: BlocksService;
  pins: PinsService;
  moderation: ModerationService;
  threads: ThreadsService;
  notifications: NotificationsService;
  mentions: MentionsService;
  accountEmail: AccountEmailService;
  calls: CallsService;
}

export interface Parley {
  readonly config: Config;
  readonly logger: Logger;
  readonly platform: Platform;
  readonly services: Services;
  readonly http: HttpApp;
  readonly metrics: Metrics;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly roles: readonly Role[];
  stop(): Promise<void>;
}

export interface StartOptions {
  roles?: readonly Role[];
  logger?: Logger;
  /** Wraps the SQL database before anything uses it (tests count statements with it). */
  wrapSql?: (db: SqlDatabase) => SqlDatabase;
}

/** Opens every port's adapter, in dependency order; closes what opened if one fails. */
async function openPlatform(config: Config, logger: Logger, metrics: Metrics, closers: (() => Promise<void>)[], wrapSql?: StartOptions['wrapSql']): Promise<Platform> {
  const opened = await openSqlDatabase(config, logger);
  const sql = wrapSql ? wrapSql(opened) : opened;
  closers.push(() => sql.close());
  await migrate(sql, logger);
  const kv = await openKeyValueStore(config, logger);
  closers.push(() => kv.close());
  const bus = await openBus(config, logger);
  closers.push(() => bus.close());
  const presence = await openPresenceStore(config, logger);
  closers.push(() => presence.close());
  const messages = await openMessageStore(config, sql, logger);
  closers.push(() => messages.close());
  // Its closer is registered by startParley, so that shutdown drains jobs in hand before
  // the media store they use closes, and after the HTTP server stops producing new ones.
  const jobs = await openJobQueue(config, logger, { sql, metrics });
  return { sql, kv, bus, presence, messages, jobs };
}

/** Starts Parley with `config`: migrates, builds services, listens. */
export async function startParley(config: Config, opts: StartOptions = {}): Promise<Parley> {
  const roles = opts.roles ?? config.ROLES;
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL, { roles: roles.join(',') });
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err }, 'error while closing');
      }
    }
  };

  try {
    const metrics = new Metrics();
    const platform = await openPlatform(config, logger, metrics, closers, opts.wrapSql);

    const usersRepo = new UsersRepository(platform.sql);
    const membership = new ConversationsRepository(platform.sql);
    // Media first: the services below get what they need of it through their constructors.
    const media = await createMediaModule({
      config,
      logger,
      sql: platform.sql,
      jobs: platform.jobs,
      isMember: (userId, conversationId) => membership.isMember(conversationId, userId),
    });
    closers.push(() => media.stop());
    // Opened before the job queue's closer is registered, so they close after jobs drain.
    const push = await openPushSenders(config, logger);
    closers.push(() => push.close());
    const mailer = await openMailer(config, logger);
    closers.push(() => mailer.close());
    // PUBLIC_URL, else this server's own address (known once it listens).
    let listenUrl = `http://localhost:${config.PORT}`;
    const publicBaseUrl = () => config.PUBLIC_URL.replace(/\/$/, '') || listenUrl;

    const validateAvatar = (userId: string, id: string) => media.service.validateAvatar(userId, id);
    const users = new UsersService(usersRepo, { avatarUrl: (id) => media.service.avatarUrl(id), validateAvatar });
    const jwtSecret = resolveJwtSecret(config.JWT_SECRET, config.DATA_DIR);
    const tokens = new AccessTokens(jwtSecret, config.ACCESS_TOKEN_TTL);
    const realtime = new Realtime(platform.bus, logger);
    // Account emails need the auth service and auth announces signups to them: the one cycle
    // of the graph, closed by a callback that runs only after both exist.
    // The cycles of the graph (account emails ↔ auth, threads ↔ conversations and views,
    // calls ↔ presence) are closed by callbacks given at construction that reach the later
    // service through this holder; they run only once everything exists.
    const late: { accountEmail?: AccountEmailService; threads?: ThreadsService; calls?: CallsService } = {};
    const auth = new AuthService(platform.sql, platform.kv, tokens, users, config, {
      // Every gateway (in any process) closes the revoked session's sockets when this reaches the user's topic.
      onSessionRevoked: (sessionId, userId) => {
        realtime.toUsers([userId], { type: '$session.revoked', sessionId }).catch((err: unknown) => logger.warn({ err }, 'could not publish a session revocation'));
      },
      onSignedUp: (user) => {
        late.accountEmail?.sendVerification(user.id).catch((err: unknown) => logger.warn({ err, userId: user.id }, 'could not send the verification email'));
      },
    });
    const accountEmail = (late.accountEmail = new AccountEmailService({ db: platform.sql, kv: platform.kv, auth, mailer, config, publicBaseUrl, logger: logger.child({ component: 'account-email' }) }));
    const devices = new DevicesService(new DevicesRepository(platform.sql));
    const views = new MessageViews(
      (ids) => media.service.expand(ids),
      async (stored, out) => late.threads?.decorate(stored, out),
    );
    const blocks = new BlocksService(new BlocksRepository(platform.sql), users);
    const mentions = new MentionsService(new MentionsRepository(platform.sql), platform.messages, views, platform.kv, config.MENTIONS_CACHE_TTL);
    const invalidateMentions = (userIds: readonly string[]) => {
      mentions.invalidate(userIds).catch((err: unknown) => logger.warn({ err }, 'could not drop cached mentions'));
    };
    const conversations = new ConversationsService(platform.sql, usersRepo, platform.messages, views, realtime, config, {
      validateAvatar,
      onRead: (userId) => invalidateMentions([userId]),
      onMemberRemoved: (userId) => invalidateMentions([userId]),
      unreadExcluded: async (userId, positions) => (late.threads ? late.threads.unfollowedReplies(userId, positions) : new Map()),
      assertNotBlocked: (peerId, userId) => blocks.assertNotBlockedBy(peerId, userId),
      leaveCalls: async (conversationId, userId) => late.calls?.memberRemoved(conversationId, userId),
    });
    const presence = new PresenceService(platform.presence, conversations.repo, realtime, config.PRESENCE_TTL, logger, config.PRESENCE_COALESCE * 1000, (userId) => late.calls?.participantOffline(userId));
    const sync = new SyncService(platform.messages, conversations, views);
    const activity = new ActivityService(platform.kv, config.NOTIFY_IDLE_AFTER);
    const links = new SignedLinks(jwtSecret);
    const notifications = new NotificationsService({
      repo: new NotificationsRepository(platform.sql),
      conversations,
      store: platform.messages,
      users: usersRepo,
      devices: new DevicesRepository(platform.sql),
      presence: platform.presence,
      activity,
      senders: push.senders,
      mailer,
      links,
      config,
      logger: logger.child({ component: 'notifications' }),
      publicBaseUrl,
    });
    closers.push(() => platform.jobs.close());
    // Every role runs the relay: api and ws commit sends (and wake it at once), the worker
    // picks up what a process that died left behind. It stops before the queue closes.
    const outbox = new OutboxRelay({ repo: new OutboxRepository(platform.sql), jobs: platform.jobs, logger: logger.child({ component: 'outbox' }), pollSeconds: config.OUTBOX_POLL_INTERVAL });
    if (config.OUTBOX_RELAY) {
      outbox.start();
      closers.push(() => outbox.stop());
    }
    const pins = new PinsService(new PinsRepository(platform.sql), conversations, platform.messages, views, realtime);
    const threads = (late.threads = new ThreadsService(new ThreadsRepository(platform.sql), conversations, platform.messages, views, realtime));
    const linkPreviews = new LinksService({ repo: new LinksRepository(platform.sql), config, logger: logger.child({ component: 'links' }), conversations, realtime, messages: platform.messages });
    const messages = new MessagesService({
      store: platform.messages,
      sends: new SendRepository(platform.sql),
      // Two send statements at a time (PGlite has one connection: one), never more than half
      // the pool. Few in flight is what lets batches form under load: measured with
      // bench/sendpath.ts, 2 in flight stored 1.6× the sends/s of 5 for less database CPU per
      // send (each statement has a fixed cost: planning, commit, WAL flush).
      batcher: new SendBatcher(platform.sql, { maxBatch: 256, maxInFlight: platform.sql.kind === 'pglite' ? 1 : Math.max(1, Math.min(2, Math.floor(config.DATABASE_POOL_MAX / 2))) }),
      conversations,
      users: usersRepo,
      presence: platform.presence,
      views,
      realtime,
      attachments: { attachable: (userId, ids) => media.service.attachable(userId, ids) },
      outbox,
      metrics,
      mentionsChanged: invalidateMentions,
      edits: new MessageEditsRepository(platform.sql),
      assertNotBlocked: (conversationId, userId) => blocks.assertMaySend(conversationId, userId),
      onDeleted: [(cid, mid, seq, actorId) => pins.onMessageDeleted(cid, mid, seq, actorId), (cid, mid) => threads.onMessageDeleted(cid, mid)],
      threads,
      jobsFor: (text) => linkPreviews.jobsFor(text),
    });
    const calls = (late.calls = new CallsService({
      db: platform.sql,
      kv: platform.kv,
      jobs: platform.jobs,
      realtime,
      conversations,
      rtc: await openRtcProviders(config),
      config,
      logger: logger.child({ component: 'calls' }),
      onlineOf: async (userIds) => {
        const states = await platform.presence.get(userIds);
        return new Set(userIds.filter((u) => states[u]?.status === 'online'));
      },
    }));
    closers.push(() => calls.stop());
    // Conversation features: search, edit history, pins, blocking, reports and administration.
    const search = new SearchService(platform.messages, conversations, views);
    const moderation = new ModerationService(new ReportsRepository(platform.sql), usersRepo, conversations, platform.messages, messages, auth);
    const services: Services = { auth, users, devices, conversations, messages, presence, sync, notifications, mentions, accountEmail, calls, search, blocks, pins, moderation, threads };

    const http = await createHttpApp({ config, logger, metrics });
    closers.push(() => http.close());
    const requireAuth = makeRequireAuth(auth);
    // One limiter, over the shared key-value store: REST and every WebSocket of a user spend one budget.
    const limiter = new RateLimiter(platform.kv);
    registerHealthRoutes(http, {
      sql: () => platform.sql.ping(),
      kv: () => platform.kv.ping(),
      bus: () => platform.bus.ping(),
      messages: () => platform.messages.ping(),
      jobs: () => platform.jobs.ping(),
      media: () => media.ping(),
    });
    if (roles.includes('api')) {
      registerAuthRoutes(http, { auth, requireAuth });
      registerUsersRoutes(http, { users, requireAuth });
      registerDevicesRoutes(http, { devices, requireAuth, vapidPublicKey: push.vapidPublicKey });
      registerNotificationsRoutes(http, { notifications, mentions, requireAuth });
      registerAccountEmailRoutes(http, { accountEmail, requireAuth });
      registerConversationsRoutes(http, { conversations, requireAuth, limiter, config });
      registerMessagesRoutes(http, { messages, requireAuth, limiter, config });
      registerSyncRoutes(http, { sync, presence, requireAuth });
      registerSearchRoutes(http, { search, requireAuth });
      registerBlocksRoutes(http, { blocks, requireAuth });
      registerPinsRoutes(http, { pins, requireAuth });
      registerModerationRoutes(http, { moderation, requireAuth });
      registerThreadsRoutes(http, { threads, requireAuth });
      media.registerRoutes(http, { requireAuth });
      registerCallsRoutes(http, { calls, requireAuth });
      registerCallWebhooks(http, { calls, config });
      calls.startSweeper();
      registerLinksRoutes(http, { links: linkPreviews, requireAuth });
      registerWebClient(http);
    }
    if (roles.includes('ws')) {
      const ws = new WsGateway({ config, logger, metrics, bus: platform.bus, auth, users, conversations, messages, presence, sync, limiter, activity, calls });
      http.server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));
      ws.start();
      // Registered after http.close, so it runs first: sockets close (1012) before the server.
      closers.push(() => ws.stop());
    }

    if (roles.includes('worker')) {
      const workers = await startWorkers({
        jobs: platform.jobs,
        sql: platform.sql,
        logger,
        metrics,
        notifications,
        mentions,
        retentionSeconds: config.PROCESSED_JOBS_RETENTION,
        digestScanSeconds: config.EMAIL_DIGEST_SCAN_INTERVAL,
      });
      closers.push(() => workers.stop());
      await registerMediaJobHandlers(platform.jobs, media.service);
      await platform.jobs.consume('links.preview', linksPreviewWorker(linkPreviews));
      media.startCleanup();
    }

    await http.listen({ port: config.PORT, host: config.HOST });
    const addr = http.server.address() as AddressInfo;
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    listenUrl = url;
    logger.info({ url, roles, sql: platform.sql.kind }, 'parley started');

    let stopping: Promise<void> | undefined;
    return {
      config,
      logger,
      platform,
      services,
      http,
      metrics,
      url,
      roles,
      stop: () => (stopping ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
