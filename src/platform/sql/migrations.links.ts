import type { Migration } from './migration.js';

/** Migrations for link previews: version 140. */
export const LINKS_MIGRATIONS: readonly Migration[] = [
  {
    version: 140,
    name: 'link_previews',
    sql: `
-- One row per fetched URL (the cache): ok = false records a refused or failed fetch, so a
-- bad link is not fetched again for every message until fetched_at is older than the TTL.
CREATE TABLE link_previews (
  url text PRIMARY KEY,
  ok boolean NOT NULL,
  final_url text,
  title text,
  description text,
  image_url text,
  site_name text,
  error text,
  fetched_at timestamptz NOT NULL DEFAULT now()
);

-- The links of a message, in order: what is attached to it.
CREATE TABLE message_links (
  message_id text NOT NULL,
  conversation_id text NOT NULL,
  position integer NOT NULL,
  url text NOT NULL,
  PRIMARY KEY (message_id, url)
);
CREATE INDEX message_links_conversation ON message_links (conversation_id, message_id);
`,
  },
];
