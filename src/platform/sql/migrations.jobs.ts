import type { Migration } from './migration.js';

/** Migrations for job bookkeeping (processed job ids for idempotent consumers): version 3. */
export const JOBS_MIGRATIONS: readonly Migration[] = [];
