import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids come from a pool refilled 4 KiB at a time: one `randomBytes(10)`
 * per id was a measurable share of the send path's CPU (each call crosses into C++ and
 * allocates), and a send makes several ids. The bytes are the same CSPRNG's.
 */
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

function random10(): string {
  if (poolOffset + 10 > POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const s = POOL.toString('hex', poolOffset, poolOffset + 10);
  poolOffset += 10;
  return s;
}

/**
 * New opaque id: 48 bits of milliseconds then 80 random bits, base32-ish lowercase hex,
 * so ids sort roughly by creation time (useful for index locality) and never collide.
 */
export function newId(): string {
  const t = Date.now().toString(16).padStart(12, '0');
  return t + random10();
}

// The one shape of every id Parley issues lives apart, import-free, for the SDK's schemas.
export { ID_PATTERN, isId } from './id-shape.js';
