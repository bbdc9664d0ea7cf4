import type { Migration } from './migration.js';

/** Migrations for media metadata: version 4. */
export const MEDIA_MIGRATIONS: readonly Migration[] = [];
