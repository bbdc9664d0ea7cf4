import type { Migration } from './migration.js';

/** Migrations of the notifications area (settings, digests, mention notifications, account email): versions 110–119. */
export const NOTIFY_MIGRATIONS: readonly Migration[] = [
  {
    version: 110,
    name: 'notification_settings_digests_mentions',
    sql: `
-- A member's notification level in one conversation; no row = the default for its type
-- (direct: all, group: mentions). Goes with the membership.
CREATE TABLE notification_settings (
  conversation_id text NOT NULL,
  user_id text NOT NULL,
  level text NOT NULL CHECK (level IN ('all', 'mentions', 'none')),
  muted_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id),
  FOREIGN KEY (conversation_id, user_id) REFERENCES members (conversation_id, user_id) ON DELETE CASCADE
);

-- Per-user settings; no row = defaults (email on after EMAIL_DIGEST_DELAY, previews on).
CREATE TABLE notification_prefs (
  user_id text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  email_enabled boolean NOT NULL DEFAULT true,
  email_delay_seconds integer,
  push_preview boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A missed-messages email waiting for its time; one per user, so messages batch into it.
-- lease_until/lease_id: the worker sending it (others skip it until the lease expires).
CREATE TABLE email_digests (
  user_id text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  due_at timestamptz NOT NULL,
  lease_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_digests_due ON email_digests (due_at);

-- Up to which seq a conversation was already emailed to a user (a digest never repeats a message).
CREATE TABLE email_digest_marks (
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  conversation_id text NOT NULL,
  emailed_seq bigint NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);

-- Mention notifications written by the mention job (the exact counts live in "mentions",
-- written in the send path); listed newest first by GET /v1/me/mentions.
CREATE TABLE mention_notifications (
  user_id text NOT NULL,
  message_id text NOT NULL,
  conversation_id text NOT NULL,
  seq bigint NOT NULL,
  sender_id text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, message_id)
);
CREATE INDEX mention_notifications_user ON mention_notifications (user_id, created_at DESC, message_id DESC);
`,
  },
  {
    version: 111,
    name: 'account_email_tokens',
    sql: `
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Single-use links sent by email (password reset, email verification): only the hash is kept.
CREATE TABLE account_email_tokens (
  token_hash text PRIMARY KEY,
  purpose text NOT NULL CHECK (purpose IN ('password_reset', 'email_verify')),
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email_lower text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_email_tokens_user ON account_email_tokens (user_id, purpose);
`,
  },
];
