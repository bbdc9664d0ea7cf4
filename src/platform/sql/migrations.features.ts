import type { Migration } from './migration.js';

/**
 * Migrations for conversation features (search, edit history, pins, blocks, reports,
 * deployment admins): versions 130–139.
 */
export const FEATURES_MIGRATIONS: readonly Migration[] = [
  {
    version: 130,
    name: 'search_edits_pins_blocks_reports_admin',
    sql: `
-- Message search in the SQL message store. 'simple' is language-neutral (no stemming, no
-- stop words), so any language's words are found; queries add prefix matching (word:*).
-- Generated from text, so an edit re-indexes it and a delete (text = NULL) removes it in
-- the same statement: the index is never behind the message.
ALTER TABLE messages ADD COLUMN search_tsv tsvector
  GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) STORED;
CREATE INDEX messages_search ON messages USING gin (search_tsv);

-- Every edit keeps the text it replaced (whichever message store holds the message).
CREATE TABLE message_edits (
  id bigserial PRIMARY KEY,
  conversation_id text NOT NULL,
  message_id text NOT NULL,
  editor_id text NOT NULL,
  previous_text text,
  edited_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX message_edits_message ON message_edits (message_id, id);

CREATE TABLE pins (
  conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  message_id text NOT NULL,
  pinned_by text NOT NULL,
  pinned_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (conversation_id, message_id)
);

-- user_id blocked blocked_id.
CREATE TABLE blocks (
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  blocked_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id);

CREATE TABLE reports (
  id text PRIMARY KEY,
  conversation_id text NOT NULL,
  message_id text NOT NULL,
  reporter_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  reported_user_id text NOT NULL,
  reason text NOT NULL,
  -- the reported text as it was when reported (the message may be edited or deleted later)
  message_text text,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  resolved_at timestamptz,
  resolved_by text,
  CONSTRAINT reports_once UNIQUE (message_id, reporter_id)
);
CREATE INDEX reports_status ON reports (status, created_at DESC, id DESC);

-- Deployment administrators (granted with \`parley admin grant <username>\`) and deactivated accounts.
ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN deactivated_at timestamptz;
`,
  },
  {
    version: 131,
    name: 'threads',
    sql: `
-- Threads, beside the message store (either one): which messages are replies to which root,
-- the root's summary, and who follows each thread with their read position in it.
CREATE TABLE thread_messages (
  message_id text PRIMARY KEY,
  conversation_id text NOT NULL,
  root_id text NOT NULL,
  seq bigint NOT NULL,
  sender_id text NOT NULL,
  created_at timestamptz NOT NULL,
  deleted boolean NOT NULL DEFAULT false
);
CREATE INDEX thread_messages_root ON thread_messages (root_id, seq);
CREATE INDEX thread_messages_conv ON thread_messages (conversation_id, seq);

CREATE TABLE threads (
  root_id text PRIMARY KEY,
  conversation_id text NOT NULL,
  reply_count integer NOT NULL DEFAULT 0,
  last_reply_at timestamptz,
  last_seq bigint NOT NULL DEFAULT 0,
  participants text[] NOT NULL DEFAULT '{}'
);

-- following = false is an explicit unfollow. The root's author follows on the first reply (unless they unfollowed); replying follows again.
CREATE TABLE thread_follows (
  root_id text NOT NULL,
  user_id text NOT NULL,
  conversation_id text NOT NULL,
  following boolean NOT NULL,
  last_read_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (root_id, user_id)
);
CREATE INDEX thread_follows_user ON thread_follows (user_id, conversation_id);
`,
  },
];
