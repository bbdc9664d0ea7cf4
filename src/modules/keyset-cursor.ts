import { invalid } from '../errors.js';

/**
 * The cursor of a page ordered by (time, id), newest first or oldest first: the time and id
 * of the last row returned, opaque to clients (base64url of the JSON `[ISO time, id]`). Every
 * such list (conversations, mentions, calls, reports, search results) uses it, so every one
 * checks what comes back the same way: exactly a time and an id, the time a real one (year
 * 2000 to 9999), the id of the shape ids have. Anything else is a forged cursor and
 * `invalid_request`, before any query sees it.
 */
export function encodeKeysetCursor(at: Date | string, id: string): string {
  return Buffer.from(JSON.stringify([at instanceof Date ? at.toISOString() : at, id])).toString('base64url');
}

/**
 * The first `limit` of `rows` (read with one more than `limit`), and the cursor of the page
 * after them: from the last row's (time, id), or null when the extra row was not there.
 */
export function keysetPage<T>(rows: readonly T[], limit: number, keyOf: (row: T) => [at: Date | string, id: string]): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { page, nextCursor: rows.length > limit ? encodeKeysetCursor(...keyOf(page[page.length - 1]!)) : null };
}

const CURSOR_ID = /^[0-9a-f]{1,64}$/;

/**
 * The (time, id) a cursor holds. The time may also be milliseconds since the epoch: the
 * reports and search cursors were written that way before, and a client may still hold one.
 */
export function decodeKeysetCursor(raw: string): { at: Date; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString());
    if (!Array.isArray(parsed) || parsed.length !== 2) throw new Error('bad');
    const [at, id] = parsed as unknown[];
    if (typeof id !== 'string' || !CURSOR_ID.test(id)) throw new Error('bad');
    if (!(typeof at === 'string' && at.length <= 40) && !Number.isInteger(at)) throw new Error('bad');
    const d = new Date(at as string | number);
    if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2000 || d.getUTCFullYear() > 9999) throw new Error('bad');
    return { at: d, id };
  } catch {
    throw invalid('Invalid cursor.');
  }
}
