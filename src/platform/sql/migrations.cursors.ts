import type { Migration } from './migration.js';

/** Migrations of clock-free sync cursors (src/platform/changes.ts): versions 170–179. */
export const CURSORS_MIGRATIONS: readonly Migration[] = [
  {
    version: 170,
    name: 'change_xids',
    sql: `
-- The transaction that last wrote each message row (insert, edit, delete, reaction) and the
-- one that inserted it, and the transaction of each conversation event: sync cursors are
-- snapshots of transaction ids, so a late commit is never skipped. Set by the column DEFAULT
-- on insert (no extra statement on the send path) and by the UPDATE in message-store.sql.ts.
-- Existing rows get 0, older than every snapshot: new cursors never resend them, and cursors
-- of the old time-based format still find them by time.
ALTER TABLE messages ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE messages ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
ALTER TABLE messages ADD COLUMN created_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE messages ALTER COLUMN created_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX messages_xid ON messages (conversation_id, xid, id);

ALTER TABLE conversation_events ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE conversation_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX conversation_events_conv_xid ON conversation_events (conversation_id, xid, id);
CREATE INDEX conversation_events_user_xid ON conversation_events (user_id, xid, id);
`,
  },
  {
    version: 171,
    name: 'mongo_message_changes',
    sql: `
-- With the MongoDB message store: one row per message, written after each write of the
-- message to MongoDB, so that change scans use transaction ids as on the SQL store (exact:
-- see message-store.mongo.ts). xid is the transaction of the last write, created_xid the
-- first; changed_at serves cursors of the old time-based format.
CREATE TABLE mongo_message_changes (
  message_id text PRIMARY KEY,
  conversation_id text NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  created_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mongo_message_changes_xid ON mongo_message_changes (conversation_id, xid, message_id);
`,
  },
];
