/**
 * Versioned schema migrations, shared by PostgreSQL and PGlite. Append only: never edit
 * a migration that has shipped; add a new one.
 */
import type { Migration } from './migration.js';
import { JOBS_MIGRATIONS } from './migrations.jobs.js';
import { MEDIA_MIGRATIONS } from './migrations.media.js';
import { LINKS_MIGRATIONS } from './migrations.links.js';
import { SENDPATH_MIGRATIONS } from './migrations.sendpath.js';
import { NOTIFY_MIGRATIONS } from './migrations.notify.js';
import { CALLS_MIGRATIONS } from './migrations.calls.js';
import { FEATURES_MIGRATIONS } from './migrations.features.js';
import { CURSORS_MIGRATIONS } from './migrations.cursors.js';

export type { Migration } from './migration.js';

const CORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users_sessions_devices',
    sql: `
CREATE TABLE users (
  id text PRIMARY KEY,
  email text NOT NULL,
  email_lower text NOT NULL UNIQUE,
  username text NOT NULL UNIQUE,
  display_name text NOT NULL,
  password_hash text NOT NULL,
  avatar_media_id text,
  status_text text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);
CREATE INDEX users_display_name_prefix ON users (lower(display_name) text_pattern_ops);

CREATE TABLE sessions (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  refresh_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  refreshed_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text,
  user_agent text,
  ip text
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every refresh token ever spent, so presenting one again is recognised as reuse.
CREATE TABLE spent_refresh_tokens (
  token_hash text PRIMARY KEY,
  session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  spent_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  platform text NOT NULL CHECK (platform IN ('fcm', 'apns', 'webpush')),
  token text,
  subscription jsonb,
  endpoint_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (platform, endpoint_key)
);
CREATE INDEX devices_user ON devices (user_id);
`,
  },
  {
    version: 2,
    name: 'conversations_members_messages',
    sql: `
CREATE TABLE conversations (
  id text PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('direct', 'group')),
  title text,
  topic text,
  avatar_media_id text,
  -- "<smaller user id>:<larger user id>" for direct conversations: one per pair.
  direct_key text UNIQUE,
  created_by text NOT NULL,
  member_count integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_activity_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
  conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  joined_at timestamptz NOT NULL DEFAULT now(),
  last_read_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- Membership changes, read positions and conversation updates, for sync and resume.
CREATE TABLE conversation_events (
  id bigserial PRIMARY KEY,
  conversation_id text NOT NULL,
  -- the user the event is about (added/removed member, reader)
  user_id text,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX conversation_events_conv ON conversation_events (conversation_id, created_at, id);
CREATE INDEX conversation_events_user ON conversation_events (user_id, created_at, id);

-- Who is mentioned where: unread mention counts are counted here.
CREATE TABLE mentions (
  conversation_id text NOT NULL,
  seq bigint NOT NULL,
  user_id text NOT NULL,
  message_id text NOT NULL,
  PRIMARY KEY (user_id, conversation_id, seq)
);
CREATE INDEX mentions_message ON mentions (message_id);

-- The SQL message store (used when MONGODB_URL is not set).
CREATE TABLE message_counters (
  conversation_id text PRIMARY KEY,
  last_seq bigint NOT NULL,
  last_rev bigint NOT NULL
);
CREATE TABLE messages (
  id text PRIMARY KEY,
  conversation_id text NOT NULL,
  seq bigint NOT NULL,
  rev bigint NOT NULL,
  sender_id text NOT NULL,
  client_msg_id text NOT NULL,
  kind text NOT NULL,
  text text,
  attachments jsonb NOT NULL DEFAULT '[]',
  reply_to_id text,
  mentions jsonb NOT NULL DEFAULT '[]',
  reactions jsonb NOT NULL DEFAULT '{}',
  system jsonb,
  created_at timestamptz NOT NULL,
  edited_at timestamptz,
  deleted_at timestamptz,
  updated_at timestamptz NOT NULL,
  CONSTRAINT messages_conv_seq UNIQUE (conversation_id, seq),
  CONSTRAINT messages_sender_client UNIQUE (sender_id, client_msg_id)
);
CREATE INDEX messages_updated ON messages (conversation_id, updated_at, id);
`,
  },
];

/**
 * Every migration in version order. Versions are unique across the files: core 1–2 and
 * 5+ (next free: 5), jobs 3, media 4, send path 100–109, notifications 110–119, calls 120–129, features 130–139, links 140, sync cursors 170–179 (add later ones after the highest in use).
 */
export const MIGRATIONS: readonly Migration[] = [
  ...CORE_MIGRATIONS,
  ...JOBS_MIGRATIONS,
  ...MEDIA_MIGRATIONS,
  ...SENDPATH_MIGRATIONS,
  ...NOTIFY_MIGRATIONS,
  ...CALLS_MIGRATIONS,
  ...FEATURES_MIGRATIONS,
  ...LINKS_MIGRATIONS,
  ...CURSORS_MIGRATIONS,
].sort((a, b) => a.version - b.version);

const versions = MIGRATIONS.map((m) => m.version);
if (new Set(versions).size !== versions.length) throw new Error(`duplicate migration versions: ${versions.join(',')}`);
