/**
 * The shape of every id Parley issues (see newId in ids.ts), with no runtime imports, so
 * schemas shared with the SDK (which must stay importable in a browser) can use it.
 */

/** 32 lowercase hex characters: 48 bits of milliseconds then 80 random bits. */
export const ID_PATTERN = '^[0-9a-f]{32}$';
const ID_RE = new RegExp(ID_PATTERN);

/** True when `s` has the shape of an id Parley issued (cheap check before any query). */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_RE.test(s);
}
