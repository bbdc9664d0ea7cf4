import { randomBytes } from 'node:crypto';

/**
 * New opaque id: 48 bits of milliseconds then 80 random bits, base32-ish lowercase hex,
 * so ids sort roughly by creation time (useful for index locality) and never collide.
 */
export function newId(): string {
  const t = Date.now().toString(16).padStart(12, '0');
  return t + randomBytes(10).toString('hex');
}

/** The one shape of every id Parley issues (see newId): 32 lowercase hex characters. */
export const ID_PATTERN = '^[0-9a-f]{32}$';
const ID_RE = new RegExp(ID_PATTERN);

/** True when `s` has the shape of an id Parley issued (cheap check before any query). */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID_RE.test(s);
}
