import type { Migration } from './migration.js';

/** Migrations for job bookkeeping (processed job ids for idempotent consumers): version 3. */
export const JOBS_MIGRATIONS: readonly Migration[] = [
  {
    version: 3,
    name: 'processed_jobs',
    sql: `
-- One row per job a consumer acted on (id = job id), and per JobContext.once step
-- (id = "<job id>#<key>", payload NULL). Inserting first, with ON CONFLICT DO NOTHING,
-- is how a redelivered job is recognised and not acted on twice.
CREATE TABLE processed_jobs (
  id text PRIMARY KEY,
  kind text NOT NULL,
  payload jsonb,
  processed_at timestamptz NOT NULL DEFAULT now()
);
-- For pruning old rows by age.
CREATE INDEX processed_jobs_processed_at ON processed_jobs (processed_at);
`,
  },
];
