import { randomBytes } from 'node:crypto';

/**
 * New opaque id: 48 bits of milliseconds then 80 random bits, base32-ish lowercase hex,
 * so ids sort roughly by creation time (useful for index locality) and never collide.
 */
export function newId(): string {
  const t = Date.now().toString(16).padStart(12, '0');
  return t + randomBytes(10).toString('hex');
}

// The one shape of every id Parley issues lives apart, import-free, for the SDK's schemas.
export { ID_PATTERN, isId } from './id-shape.js';
