/**
 * The one typed configuration. It is read once at startup from the environment (and an
 * optional `.env` file in the working directory), validated as a whole, and frozen.
 * Every field is documented here; the README's configuration table is generated from
 * this spec (`npm run config:table`) and `test/config.test.ts` checks that they agree.
 *
 * With no variables set at all, Parley runs in the embedded profile: PGlite under
 * `DATA_DIR`, in-process bus/cache/jobs, local-directory blobs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';

type Parser<T> = (raw: string) => T;

interface FieldSpec<T> {
  readonly group: string;
  readonly doc: string;
  /** Raw default, parsed like a given value; undefined means "unset". */
  readonly default: string;
  readonly parse: Parser<T>;
  readonly secret?: boolean;
}

function field<T>(group: string, def: string, parse: Parser<T>, doc: string, secret = false): FieldSpec<T> {
  return { group, default: def, parse, doc, secret };
}

// ---- parsers: each throws an Error with a human message on bad input ----

const str: Parser<string> = (raw) => raw;

function int(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new Error(`expected true or false, got "${raw}"`);
};

function oneOf<T extends string>(...values: T[]): Parser<T> {
  return (raw) => {
    if ((values as string[]).includes(raw)) return raw as T;
    throw new Error(`expected one of ${values.join(', ')}, got "${raw}"`);
  };
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parses "900", "15m", "30d", "500ms" into seconds. */
export function parseDurationSeconds(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) throw new Error(`expected a duration like 30s, 15m, 24h or 7d, got "${raw}"`);
  return Number(m[1]) * UNIT_SECONDS[m[2] ?? 's']!;
}
const duration: Parser<number> = (raw) => {
  const s = parseDurationSeconds(raw);
  if (s <= 0) throw new Error('must be positive');
  return s;
};

/** A rate limit "N/window", e.g. "20/10m": at most N events per window. */
export interface RateLimit {
  readonly max: number;
  readonly windowSeconds: number;
}
const rate: Parser<RateLimit> = (raw) => {
  const [n, w] = raw.split('/');
  if (!n || !w || !/^\d+$/.test(n)) throw new Error(`expected "N/window" like 20/10m, got "${raw}"`);
  const max = Number(n);
  if (max < 1) throw new Error('N must be at least 1');
  return { max, windowSeconds: duration(w) };
};

function url(...protocols: string[]): Parser<string> {
  return (raw) => {
    if (raw === '') return '';
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Error(`expected a URL, got "${redact(raw)}"`);
    }
    if (!protocols.includes(u.protocol.replace(/:$/, ''))) {
      throw new Error(`expected a ${protocols.join(' or ')} URL, got ${u.protocol}//...`);
    }
    return raw;
  };
}

/** A base64url string of exactly `n` bytes (or empty for unset). */
function base64UrlBytes(n: number, what: string): Parser<string> {
  return (raw) => {
    if (raw === '') return '';
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(raw) || Buffer.from(raw, 'base64url').length !== n) {
      throw new Error(`expected ${what}: ${n} bytes in base64url`);
    }
    return raw;
  };
}

/** Splits a comma list, trimming and dropping empty entries. */
export function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const ROLES = ['api', 'ws', 'worker'] as const;
export type Role = (typeof ROLES)[number];
/** Parses a role list such as "api,ws". */
export function parseRoles(raw: string): Role[] {
  const roles = list(raw);
  if (roles.length === 0) throw new Error('at least one role is required');
  for (const r of roles) if (!(ROLES as readonly string[]).includes(r)) throw new Error(`unknown role "${r}" (roles: ${ROLES.join(', ')})`);
  return [...new Set(roles)] as Role[];
}

function redact(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

// ---- the spec ----

export const CONFIG_SPEC = {
  // Server
  PORT: field('Server', '8080', int(0, 65535), 'TCP port of the HTTP and WebSocket server.'),
  HOST: field('Server', '0.0.0.0', str, 'Address to listen on.'),
  ROLES: field('Server', 'api,ws,worker', parseRoles, 'Process roles to run: any of `api` (REST), `ws` (WebSocket gateway), `worker` (job consumers). `parley serve --roles` overrides it.'),
  DATA_DIR: field('Server', './data', str, 'Where the embedded profile keeps its data (PGlite database, generated JWT secret, local media, mail outbox).'),
  PUBLIC_URL: field('Server', '', url('http', 'https'), 'External base URL of this deployment (e.g. `https://chat.example.com`); used for signed local media URLs. Default: `http://localhost:PORT`.'),
  LOG_LEVEL: field('Server', 'info', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), 'pino log level.'),
  TRUST_PROXY: field('Server', 'false', str, 'Trust `X-Forwarded-*` from a proxy: `true`, `false`, or a comma list of proxy addresses/CIDRs (set it behind Nginx so rate limits see client IPs).'),
  BODY_LIMIT_BYTES: field('Server', '1048576', int(1024, 64 * 1024 * 1024), 'Largest accepted request body (413 above).'),
  SHUTDOWN_GRACE: field('Server', '10s', duration, 'How long graceful shutdown waits for requests, sockets and jobs in hand before exiting.'),

  // Database
  DATABASE_URL: field('Database', '', url('postgres', 'postgresql'), 'PostgreSQL connection URL. Unset: embedded PGlite under `DATA_DIR/pglite`.', true),
  DATABASE_POOL_MAX: field('Database', '10', int(1, 1000), 'Maximum PostgreSQL connections per process.'),
  DATABASE_PREPARED_STATEMENTS: field(
    'Database',
    'true',
    bool,
    'Keep the statements this process runs again and again prepared on each connection (named statements: parsed once, planned once PostgreSQL settles on a generic plan), up to 256 of them. On this project\'s own benchmark it halved PostgreSQL\'s CPU per message. `false` for a pooler in transaction mode that cannot keep them (PgBouncer before 1.21, or without `max_prepared_statements`).',
  ),
  DATABASE_REPLICA_URL: field(
    'Database',
    '',
    url('postgres', 'postgresql'),
    'A streaming read replica of `DATABASE_URL`. Reads that tolerate lag (older history pages) go there, and fall back to the primary while it is unreachable. Unset: every read goes to the primary.',
    true,
  ),
  MONGODB_URL: field('Database', '', url('mongodb', 'mongodb+srv'), 'MongoDB URL for the message store. Unset: messages live in the SQL database.', true),
  MONGODB_DATABASE: field('Database', 'parley', str, 'MongoDB database name for messages.'),

  // Redis
  REDIS_URL: field('Redis', '', url('redis', 'rediss'), 'Redis URL for the pub/sub bus, presence, sessions and rate limits. Unset: in-process (single process only).', true),
  REDIS_CLUSTER: field('Redis', 'false', bool, 'Treat `REDIS_URL` as a seed node of a Redis Cluster and use sharded pub/sub (SSUBSCRIBE/SPUBLISH).'),
  REDIS_KEY_PREFIX: field('Redis', 'parley:', str, 'Prefix for every Redis key and channel, so deployments can share a server.'),

  // Jobs
  AMQP_URL: field('Jobs', '', url('amqp', 'amqps'), 'RabbitMQ URL for background jobs. Unset: in-process queue with the same retry and dead-letter semantics.', true),
  AMQP_QUEUE_PREFIX: field('Jobs', 'parley', str, 'Prefix of the queue and exchange names.'),
  AMQP_QUEUE_TYPE: field(
    'Jobs',
    'quorum',
    oneOf('quorum', 'classic'),
    'RabbitMQ queue type: `quorum` (replicated; the default for new deployments) or `classic`. An existing queue keeps its type: a deployment that already has classic queues sets `classic` (or drains and deletes them first).',
  ),
  JOB_DELIVERY_LIMIT: field('Jobs', '20', int(2, 1000), 'Quorum queues: deliveries of one job without an ack (its worker died each time) before the broker dead-letters it.'),
  JOB_PREFETCH: field('Jobs', '16', int(1, 10000), 'Jobs of one kind a worker process runs at once (a message\'s notification jobs: JOB_PREFETCH_MESSAGE); also its RabbitMQ prefetch for every kind, in messages.'),
  JOB_PREFETCH_MESSAGE: field(
    'Jobs',
    '128',
    int(1, 10000),
    "Jobs of each of a message's notification kinds (`notify.push`, `notify.email`, `notify.background`) a worker process runs at once (its RabbitMQ prefetch stays JOB_PREFETCH messages, each of up to JOB_BATCH jobs). The jobs a worker runs together are decided together (one read of each conversation's members and their presence for all its messages), so a busy conversation costs less per message the more it takes at once.",
  ),
  JOB_BATCH: field('Jobs', '256', int(1, 1000), 'RabbitMQ: jobs of one kind enqueued together travel in one message of up to this many (1: one message per job; the outbox relay moves up to 256 sends at a time). Workers read both forms; upgrade them before the processes that enqueue.'),
  JOB_MAX_ATTEMPTS: field('Jobs', '5', int(1, 100), 'Attempts before a failing job goes to the dead-letter queue.'),
  JOB_RETRY_DELAY: field('Jobs', '1s', duration, 'Delay before the first retry; each later retry waits twice as long as the one before.'),
  OUTBOX_RELAY: field('Jobs', 'true', bool, 'Run the outbox relay in this process (every role runs it by default). `false`: this process still writes outbox rows with its sends but never moves them to the queue; another process must. Tests use it to hold jobs between commit and relay.'),
  OUTBOX_POLL_INTERVAL: field('Jobs', '1s', duration, 'How often the outbox relay looks for rows written by other processes (rows this process commits are relayed about 20 ms after their commit, together with the commits right behind them).'),
  PROCESSED_JOBS_RETENTION: field('Jobs', '7d', duration, 'How long a completed job id (or push step) is remembered (`processed_jobs`), so a redelivery within this time is dropped (a message\'s notification jobs remember only their device pushes, and decide again); older rows are pruned hourly by the worker role.'),

  // Auth
  JWT_SECRET: field('Auth', '', str, 'HMAC secret (at least 32 characters) for access tokens. Unset: generated once and kept in `DATA_DIR/jwt-secret`. Set it (the same everywhere) when running several processes.', true),
  ACCESS_TOKEN_TTL: field('Auth', '15m', duration, 'Lifetime of an access token (JWT).'),
  REFRESH_TOKEN_TTL: field('Auth', '30d', duration, 'Lifetime of a session and its refresh token.'),
  SESSION_CACHE_TTL: field('Auth', '30s', duration, 'How long a process may cache that a session is live (revocation is written through to the cache at once).'),
  RATE_LIMIT_SIGNUP_IP: field('Auth', '30/10m', rate, 'Signups per client address.'),
  RATE_LIMIT_LOGIN_IP: field('Auth', '100/10m', rate, 'Login attempts per client address.'),
  RATE_LIMIT_LOGIN_ACCOUNT: field('Auth', '1000/1h', rate, 'Failed logins per account name from all addresses together before that name answers 429 for the rest of the window: a ceiling far above `LOGIN_FREE_FAILURES`, against guessing from many addresses.'),
  LOGIN_FREE_FAILURES: field('Auth', '5', int(1, 1000), 'Failed logins per (account name, client address) before each further attempt from there must wait; the wait doubles with every failure (1 s, 2 s, 4 s, …) up to `LOGIN_MAX_DELAY`. A correct password resets it.'),
  LOGIN_MAX_DELAY: field('Auth', '15m', duration, 'Longest wait between login attempts for one (account name, client address).'),
  REFRESH_GRACE_PERIOD: field('Auth', '5s', duration, 'How long a just-rotated refresh token still returns the same new pair (two tabs, a retried request); after it, presenting it again revokes the session.'),

  // Chat
  GROUP_MEMBER_LIMIT: field('Chat', '1000', int(2, 1_000_000), 'Most members a group may have.'),
  RATE_LIMIT_WS_SEND: field('Chat', '30/10s', rate, 'Messages a user may send, REST and every WebSocket connection together (one budget per user, shared by all processes).'),
  RATE_LIMIT_WS_TYPING: field('Chat', '10/10s', rate, 'Typing frames a user may send over all their connections; extra ones get a `rate_limited` error.'),
  RATE_LIMIT_READ: field('Chat', '120/10s', rate, 'Read-position updates a user may make, REST and WebSocket `read` frames together.'),
  RATE_LIMIT_CALL_SIGNAL: field('Chat', '300/10s', rate, '`call.signal` frames (WebRTC offers, answers, ICE candidates) a user may send over all their connections.'),
  RATE_LIMIT_WS_PING: field('Chat', '120/10s', rate, '`ping` frames one WebSocket connection may send.'),
  RATE_LIMIT_WS_RESUME: field('Chat', '10/10s', rate, '`resume` frames one WebSocket connection may send; besides, only one is handled at a time (a second while one replays gets `rate_limited`).'),
  WS_RESUME_MAX_EVENTS: field('Chat', '5000', int(100, 1_000_000), 'Most events one `resume` replays; past it the reply is `resumed {cursor, hasMore: true}` and the client resumes again from that cursor.'),
  WS_MAX_CONNECTIONS_PER_USER: field('Chat', '50', int(1, 100_000), 'Most WebSocket connections one user may hold on one gateway process; more are refused with HTTP 429 before the upgrade.'),
  WS_MAX_CONNECTIONS_PER_SESSION: field('Chat', '5', int(1, 10_000), 'Most WebSocket connections one login session (device) may hold on one gateway process; a newer one closes the oldest (1008).'),
  WS_MAX_BUFFERED_BYTES: field('Chat', '4194304', int(65536, 1 << 30), 'A WebSocket whose unsent buffer grows past this is closed (1013): a slow reader cannot hold memory.'),
  WS_HEARTBEAT_INTERVAL: field('Chat', '30s', duration, 'Interval of server pings; a connection that misses one is dropped.'),
  PRESENCE_TTL: field('Chat', '60s', duration, 'A user is offline when no gateway has renewed their presence for this long.'),
  PRESENCE_COALESCE: field('Chat', '50ms', duration, 'Presence changes of one process are gathered for this long and published once per user, on each of their conversations (a connect storm makes one announcement per user, not one per connection and contact).'),

  // Media
  S3_ENDPOINT: field('Media', '', url('http', 'https'), 'S3 API endpoint (AWS, Aliyun OSS, MinIO, R2). Unset with no `S3_BUCKET`: local directory under `DATA_DIR/media`.'),
  S3_REGION: field('Media', 'us-east-1', str, 'S3 region.'),
  S3_BUCKET: field('Media', '', str, 'Bucket for media. Setting it selects the S3 adapter.'),
  S3_ACCESS_KEY_ID: field('Media', '', str, 'S3 access key id (unset: the AWS SDK default credential chain).', true),
  S3_SECRET_ACCESS_KEY: field('Media', '', str, 'S3 secret access key.', true),
  S3_FORCE_PATH_STYLE: field('Media', 'false', bool, 'Use path-style URLs (MinIO and most self-hosted S3 servers).'),
  S3_PUBLIC_URL: field('Media', '', url('http', 'https'), 'Optional CDN/public base URL that replaces the endpoint in download URLs.'),
  MEDIA_MAX_IMAGE_BYTES: field('Media', '20971520', int(1, 2 ** 40), 'Largest image upload.'),
  MEDIA_MAX_VIDEO_BYTES: field('Media', '209715200', int(1, 2 ** 40), 'Largest video upload.'),
  MEDIA_MAX_AUDIO_BYTES: field('Media', '52428800', int(1, 2 ** 40), 'Largest audio upload.'),
  MEDIA_MAX_FILE_BYTES: field('Media', '104857600', int(1, 2 ** 40), 'Largest other file upload.'),
  MEDIA_UPLOAD_URL_TTL: field('Media', '15m', duration, 'Lifetime of a presigned upload URL.'),
  MEDIA_DOWNLOAD_URL_TTL: field('Media', '5m', duration, 'Lifetime of a download URL.'),
  MEDIA_PENDING_TTL: field('Media', '1h', duration, 'An upload not completed within this time is deleted by the periodic cleanup.'),

  // Link previews
  LINK_PREVIEWS: field('Link previews', 'true', bool, 'Fetch Open Graph previews of links in new messages (server-side, SSRF-guarded). `false` turns previews off.'),
  LINK_PREVIEW_ALLOW_HOSTS: field('Link previews', '', (raw) => list(raw).map((h) => h.toLowerCase()), 'Comma-separated host names (or `host:port`) fetched even though they resolve to a private or loopback address (an intranet wiki; the tests\' loopback page). Empty: public addresses only.'),
  LINK_PREVIEW_TIMEOUT: field('Link previews', '5s', duration, 'Time allowed to fetch one page, redirects included.'),
  LINK_PREVIEW_MAX_BYTES: field('Link previews', '524288', int(1024, 16 * 1024 * 1024), 'Largest page read for a preview; a larger one gets no preview.'),
  LINK_PREVIEW_MAX_REDIRECTS: field('Link previews', '3', int(0, 10), 'Redirects followed (each target is checked again).'),
  LINK_PREVIEW_CACHE_TTL: field('Link previews', '24h', duration, 'How long a fetched preview (or a failure) is reused before the page is fetched again.'),

  // Push
  WEB_PUSH_VAPID_PUBLIC_KEY: field('Push', '', base64UrlBytes(65, 'an uncompressed P-256 public key'), 'VAPID public key (base64url, 65 bytes) for Web Push; browsers subscribe with it. Unset: Web Push is off.'),
  WEB_PUSH_VAPID_PRIVATE_KEY: field('Push', '', base64UrlBytes(32, 'a P-256 private key'), 'VAPID private key (base64url, 32 bytes) that signs Web Push requests.', true),
  WEB_PUSH_SUBJECT: field('Push', '', str, 'VAPID subject: a `mailto:` or `https:` contact for push services. Default with generated keys: `mailto:admin@localhost`.'),
  WEB_PUSH_GENERATE_KEYS: field('Push', 'false', bool, 'When no VAPID keys are set, generate a pair once and keep it in `DATA_DIR/vapid.json` (`npm start` turns this on, so Web Push works out of the box).'),
  FCM_SERVICE_ACCOUNT_FILE: field('Push', '', str, 'Path of the Firebase service account JSON (`client_email`, `private_key`, `project_id`, `token_uri`). Setting it turns FCM on; a file that cannot be read or parsed stops startup.'),
  FCM_BASE_URL: field('Push', 'https://fcm.googleapis.com', url('http', 'https'), 'FCM HTTP v1 API base URL (`/v1/projects/<project>/messages:send` is appended).'),
  FCM_TOKEN_URL: field('Push', '', url('http', 'https'), 'OAuth2 token endpoint for the service account. Default: the `token_uri` of the service account file.'),
  APNS_KEY_FILE: field('Push', '', str, 'Path of the APNs auth key (`.p8`, PKCS#8 EC P-256). Setting it turns APNs on (with `APNS_KEY_ID`, `APNS_TEAM_ID`, `APNS_TOPIC`); a bad key stops startup.'),
  APNS_KEY_ID: field('Push', '', str, 'Key id of the APNs auth key (the `kid` of the provider token).'),
  APNS_TEAM_ID: field('Push', '', str, 'Apple developer team id (the `iss` of the provider token).'),
  APNS_TOPIC: field('Push', '', str, 'The app bundle id (`apns-topic`).'),
  APNS_URL: field('Push', 'https://api.push.apple.com', url('https'), 'APNs base URL (HTTP/2); `https://api.sandbox.push.apple.com` for development builds.'),
  APNS_CA_FILE: field('Push', '', str, 'Extra PEM CA certificates to trust for `APNS_URL` (a TLS-intercepting proxy, or a test server). Unset: the system roots.'),
  WEB_PUSH_CA_FILE: field('Push', '', str, 'Extra PEM CA certificates to trust for Web Push endpoints (a self-hosted push service, or a test server). Unset: the system roots.'),
  PUSH_SHOW_TEXT: field('Push', 'true', bool, 'Put a preview of the message text in pushes. `false` sends "New message" only, for every user (each user can also turn previews off in `PATCH /v1/me/notifications`).'),
  PUSH_RETRY_ATTEMPTS: field('Push', '3', int(1, 20), 'Attempts per device when a provider answers 429 or 5xx (waiting `Retry-After` or a doubling delay) before the job itself is retried later.'),
  PUSH_RETRY_MAX_DELAY: field('Push', '30s', duration, 'Longest wait between two attempts at a provider (a longer `Retry-After` fails the attempt and leaves it to the job retry).'),

  // Notifications
  NOTIFY_IDLE_AFTER: field('Notifications', '2m', duration, 'A connected user who sent nothing but pings for this long is idle, and gets pushes like an offline one.'),
  EMAIL_DIGEST_DELAY: field('Notifications', '15m', duration, 'Default wait between the first unread message and the missed-messages email (users can change theirs).'),
  EMAIL_DIGEST_SCAN_INTERVAL: field('Notifications', '15s', duration, 'How often a worker looks for digests that are due.'),
  MENTIONS_CACHE_TTL: field('Notifications', '10m', duration, 'Lifetime of the cached recent mentions and unread-mention count of a user (invalidated on read, edit and delete anyway).'),

  // Mail
  SMTP_URL: field('Mail', '', url('smtp', 'smtps'), 'SMTP server, e.g. `smtp://user:pass@mail.example.com:587` (`smtps://` for implicit TLS). Unset: mails are written as `.eml` files to `DATA_DIR/mail/outbox`.', true),
  MAIL_FROM: field('Mail', 'Parley <no-reply@localhost>', str, 'From address of every mail.'),
  SMTP_REQUIRE_TLS: field('Mail', 'false', bool, 'Refuse to send over `smtp://` unless the server offers STARTTLS.'),
  SMTP_TLS_REJECT_UNAUTHORIZED: field('Mail', 'true', bool, 'Verify the SMTP server certificate (turn off only for a server with a self-signed certificate you trust).'),
  SMTP_CA_FILE: field('Mail', '', str, 'Extra PEM CA certificates to trust for the SMTP server.'),
  PASSWORD_RESET_TTL: field('Mail', '1h', duration, 'Lifetime of a password reset link.'),
  EMAIL_VERIFY_TTL: field('Mail', '7d', duration, 'Lifetime of an email verification link.'),
  RATE_LIMIT_PASSWORD_FORGOT: field('Mail', '5/1h', rate, 'Password reset requests per email address and per client address (extra requests are answered 202 but send nothing, or 429 per address).'),

  // Calls
  CALLS_AUDIO_PROVIDER: field('Calls', 'auto', oneOf('auto', 'p2p', 'getstream', 'aliyun'), 'Who carries audio calls: `p2p` (built-in WebRTC signalling over Parley\'s WebSocket), `getstream`, `aliyun`, or `auto` (GetStream when `GETSTREAM_API_KEY` is set, else p2p).'),
  CALLS_VIDEO_PROVIDER: field('Calls', 'auto', oneOf('auto', 'p2p', 'getstream', 'aliyun'), 'Who carries video calls: `p2p`, `getstream`, `aliyun`, or `auto` (Aliyun ARTC when `ALIYUN_RTC_APP_ID` is set, else p2p).'),
  CALLS_RING_TIMEOUT: field('Calls', '45s', duration, 'A call that nobody else joins within this time ends as `missed` (a system message says so).'),
  CALLS_STATE_TTL: field('Calls', '6h', duration, 'Lifetime of a call\'s cached state in Redis (or in process); PostgreSQL stays the record.'),
  CALLS_MAX_DURATION: field('Calls', '12h', duration, 'A call still open after this long is ended by the sweeper (a client that vanished without hanging up).'),
  CALLS_OFFLINE_GRACE: field('Calls', '30s', duration, 'A participant with no live connection for this long leaves their calls (a closed tab or a dead phone does not hold a call open); a reconnect within it keeps the call.'),
  CALLS_SIGNAL_MAX_BYTES: field('Calls', '32768', int(256, 60000), 'Largest `data` of a `call.signal` frame (WebRTC offer/answer/ICE), as JSON bytes.'),
  CALLS_STUN_URLS: field('Calls', '', str, 'Comma list of STUN URLs handed to p2p calls (e.g. `stun:stun.example.com:3478`). Unset: none (host candidates only; fine on one network).'),
  CALLS_TURN_URLS: field('Calls', '', str, 'Comma list of TURN URLs for p2p calls (e.g. `turn:turn.example.com:3478?transport=udp`); needs `CALLS_TURN_SECRET`.'),
  CALLS_TURN_SECRET: field('Calls', '', str, 'coturn `static-auth-secret` (`use-auth-secret`): each call gets username `expiry:userId` and password `base64(HMAC-SHA1(secret, username))`.', true),
  CALLS_TURN_TTL: field('Calls', '6h', duration, 'Lifetime of the TURN credentials handed out with a call.'),
  GETSTREAM_API_KEY: field('Calls', '', str, 'GetStream Video API key (audio calls through GetStream).'),
  GETSTREAM_API_SECRET: field('Calls', '', str, 'GetStream API secret: signs the server and user JWTs and verifies webhook `X-Signature`.', true),
  GETSTREAM_BASE_URL: field('Calls', 'https://video.stream-io-api.com', url('http', 'https'), 'GetStream Video API base URL.'),
  GETSTREAM_CALL_TYPE: field('Calls', 'default', str, 'GetStream call type used for Parley calls (`default`, `audio_room`, or one of your own).'),
  GETSTREAM_TOKEN_TTL: field('Calls', '1h', duration, 'Lifetime of the GetStream user tokens handed to clients.'),
  ALIYUN_RTC_APP_ID: field('Calls', '', str, 'Aliyun ApsaraVideo RTC (ARTC) application id (video calls through Aliyun).'),
  ALIYUN_RTC_APP_KEY: field('Calls', '', str, 'ARTC AppKey: signs join tokens `hex(sha256(appId + appKey + channelId + userId + nonce + timestamp))`.', true),
  ALIYUN_RTC_GSLB: field('Calls', 'https://rgslb.rtc.aliyuncs.com', str, 'Comma list of ARTC GSLB addresses handed to clients.'),
  ALIYUN_RTC_TOKEN_TTL: field('Calls', '24h', duration, 'Lifetime of an ARTC join token (its timestamp is the expiry; Aliyun allows at most 24 h).'),
  ALIYUN_RTC_CALLBACK_SECRET: field('Calls', '', str, 'Secret that protects `POST /v1/webhooks/aliyun-rtc`: put it in the CreateEventSubscribe `CallbackUrl` as `?token=<secret>` (or send `Authorization: Bearer <secret>`). Unset: that webhook answers 401.', true),
} as const;

type Spec = typeof CONFIG_SPEC;
export type ConfigKey = keyof Spec;
export type Config = { readonly [K in ConfigKey]: ReturnType<Spec[K]['parse']> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Variables with this prefix are ours: an unknown one is a mistake worth stopping for. */
const OWN_PREFIX = 'PARLEY_';

/**
 * Reads and validates the configuration from `env`, merged over `.env` in `cwd` if present
 * (the environment wins). Throws a ConfigError listing every problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { dotenvPath?: string | null } = {}): Config {
  const problems: string[] = [];
  let fileVars: Record<string, string> = {};
  const dotenvPath = opts.dotenvPath === undefined ? '.env' : opts.dotenvPath;
  if (dotenvPath && existsSync(dotenvPath)) {
    fileVars = parseDotenv(readFileSync(dotenvPath));
    for (const k of Object.keys(fileVars)) {
      if (!(k in CONFIG_SPEC)) problems.push(`${k} (in ${dotenvPath}): unknown variable`);
    }
  }
  for (const k of Object.keys(env)) {
    if (k.startsWith(OWN_PREFIX)) problems.push(`${k}: unknown variable (no Parley setting has this name)`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [ConfigKey, FieldSpec<unknown>][]) {
    const raw = env[key] ?? fileVars[key] ?? spec.default;
    try {
      out[key] = spec.parse(raw);
    } catch (e) {
      problems.push(`${key}: ${(e as Error).message}`);
    }
  }
  if (typeof out.JWT_SECRET === 'string' && out.JWT_SECRET !== '' && out.JWT_SECRET.length < 32) {
    problems.push('JWT_SECRET: must be at least 32 characters');
  }
  if (out.S3_BUCKET === '' && out.S3_ENDPOINT !== '') problems.push('S3_BUCKET: required when S3_ENDPOINT is set');
  if ((out.WEB_PUSH_VAPID_PUBLIC_KEY === '') !== (out.WEB_PUSH_VAPID_PRIVATE_KEY === '')) {
    problems.push('WEB_PUSH_VAPID_PUBLIC_KEY, WEB_PUSH_VAPID_PRIVATE_KEY: set both or neither');
  }
  if (out.WEB_PUSH_VAPID_PUBLIC_KEY !== '' && typeof out.WEB_PUSH_SUBJECT === 'string' && !/^(mailto:|https:\/\/)/.test(out.WEB_PUSH_SUBJECT)) {
    problems.push('WEB_PUSH_SUBJECT: a mailto: or https: URL is required with VAPID keys');
  }
  if (out.APNS_KEY_FILE !== '' && (out.APNS_KEY_ID === '' || out.APNS_TEAM_ID === '' || out.APNS_TOPIC === '')) {
    problems.push('APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC: required when APNS_KEY_FILE is set');
  }
  for (const kind of ['AUDIO', 'VIDEO'] as const) {
    const p = out[`CALLS_${kind}_PROVIDER`];
    if (p === 'getstream' && (out.GETSTREAM_API_KEY === '' || out.GETSTREAM_API_SECRET === '')) problems.push(`CALLS_${kind}_PROVIDER: getstream needs GETSTREAM_API_KEY and GETSTREAM_API_SECRET`);
    if (p === 'aliyun' && (out.ALIYUN_RTC_APP_ID === '' || out.ALIYUN_RTC_APP_KEY === '')) problems.push(`CALLS_${kind}_PROVIDER: aliyun needs ALIYUN_RTC_APP_ID and ALIYUN_RTC_APP_KEY`);
  }
  if (out.CALLS_TURN_URLS !== '' && out.CALLS_TURN_SECRET === '') problems.push('CALLS_TURN_SECRET: required when CALLS_TURN_URLS is set');
  if (typeof out.ALIYUN_RTC_TOKEN_TTL === 'number' && out.ALIYUN_RTC_TOKEN_TTL > 86400) problems.push('ALIYUN_RTC_TOKEN_TTL: at most 24h (Aliyun refuses longer tokens)');
  if (typeof out.ALIYUN_RTC_APP_ID === 'string' && out.ALIYUN_RTC_APP_ID !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(out.ALIYUN_RTC_APP_ID)) problems.push('ALIYUN_RTC_APP_ID: expected up to 64 of [A-Za-z0-9_-]');
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(out) as Config;
}

/** The configuration table for the README, generated from the spec. */
export function configTableMarkdown(): string {
  const rows = ['| variable | default | description |', '| --- | --- | --- |'];
  let group = '';
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, FieldSpec<unknown>][]) {
    if (spec.group !== group) {
      group = spec.group;
      rows.push(`| **${group}** | | |`);
    }
    rows.push(`| \`${key}\` | ${spec.default === '' ? '—' : `\`${spec.default}\``} | ${spec.doc} |`);
  }
  return rows.join('\n');
}
