import type { Migration } from './migration.js';

/** Migrations for media metadata: version 4. */
export const MEDIA_MIGRATIONS: readonly Migration[] = [
  {
    version: 4,
    name: 'media',
    sql: `
-- One row per upload. A row is 'pending' from the upload request until the server has
-- checked the stored object ('ready'); pending rows past expires_at are deleted, with
-- their objects, by the periodic cleanup. Refused uploads are deleted at once.
CREATE TABLE media (
  id text PRIMARY KEY,
  owner_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  filename text NOT NULL,
  content_type text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'file')),
  size bigint NOT NULL CHECK (size >= 0),
  object_key text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('pending', 'ready')),
  width integer,
  height integer,
  thumbnail_key text,
  -- Set once the owner used it as a user or group avatar: then anyone may fetch it
  -- through GET /v1/media/:id/avatar.
  avatar boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  expires_at timestamptz
);
CREATE INDEX media_owner ON media (owner_id, created_at);
CREATE INDEX media_pending_expiry ON media (expires_at) WHERE status = 'pending';

-- Where media was posted: members of these conversations may download it. No foreign
-- key to conversations: membership is checked live, so rows of a deleted conversation
-- grant nothing.
CREATE TABLE media_posts (
  media_id text NOT NULL REFERENCES media(id) ON DELETE CASCADE,
  conversation_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (media_id, conversation_id)
);
CREATE INDEX media_posts_conversation ON media_posts (conversation_id);
`,
  },
];
