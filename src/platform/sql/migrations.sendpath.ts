import type { Migration } from './migration.js';

/** Migrations of the send path (transactional outbox): versions 100–109. */
export const SENDPATH_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'outbox',
    sql: `
-- Jobs written in the same statement/transaction as the change that causes them, then
-- moved to the job queue by the outbox relay (src/modules/outbox). id = the job id, so a
-- row is relayed under a stable id and consumers drop a duplicate delivery.
CREATE TABLE outbox (
  id text PRIMARY KEY,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- A relay that took the row holds it until then; after that (it died) anyone may take it.
  claimed_until timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  -- Set once the queue confirmed the job. Relayed rows are kept for a day (then pruned),
  -- so re-writing the same job id (a repaired send) is recognised and not relayed twice.
  relayed_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE relayed_at IS NULL;
CREATE INDEX outbox_relayed ON outbox (relayed_at) WHERE relayed_at IS NOT NULL;
`,
  },
];
