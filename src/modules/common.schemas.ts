/**
 * Schemas shared by every module's routes and by the WebSocket frames: one shape for ids,
 * one rule for text. Input is checked here, at the edge, so nothing malformed reaches a
 * query (a NUL in PostgreSQL text, an id of the wrong shape in a keyset, ...).
 *
 * Malformed ids: in a URL path they answer 404 `not_found` (the path names nothing, the
 * same answer as an id that does not exist); in a body, a query string or a WebSocket
 * frame they answer 400 `invalid_request` (the request itself is malformed). See
 * docs/errors.md.
 */
import { Type, type TString } from 'typebox';
import { ID_PATTERN } from '../id-shape.js';

/** Any id Parley issued (users, conversations, messages, media, sessions, devices). */
export const Id = Type.String({ pattern: ID_PATTERN, minLength: 32, maxLength: 32, description: 'An id: 32 lowercase hex characters.' });

/** A comma-separated list of ids (query strings), at most `max` of them. */
export function IdList(max: number): TString {
  return Type.String({ pattern: `^[0-9a-f]{32}(,[0-9a-f]{32}){0,${max - 1}}$`, maxLength: max * 33, description: `Up to ${max} comma-separated ids.` });
}

/** Text of any kind, even multi-line: anything but NUL (PostgreSQL text cannot hold it). */
export const NO_NUL_TEXT = '^[^\\u0000]*$';

/** Display text: one line, no control characters. */
export const SINGLE_LINE_TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

/** A string schema that refuses NUL (keep `pattern` out of `opts`: use SINGLE_LINE_TEXT for stricter text). */
export function Text(opts: { minLength?: number; maxLength: number; description?: string; format?: string }): TString {
  return Type.String({ ...opts, pattern: NO_NUL_TEXT });
}

/** How deep `findNul` looks (bodies are small and schemas bound their depth anyway). */
const MAX_DEPTH = 32;

/**
 * Where the first NUL character is in a parsed input (a string, a key, or a string deep
 * in arrays and objects), as a JSON-pointer-like path; null when there is none. The HTTP
 * gateway runs it on every body, query and path, the WebSocket gateway on every frame,
 * so no text field anywhere can carry one to the database.
 */
export function findNul(value: unknown, path = '', depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '/' : null;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findNul(value[i], `${path}/${i}`, depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.includes('\u0000')) return `${path}/${k.replaceAll('\u0000', '\\u0000')}`;
    const p = findNul(v, `${path}/${k}`, depth + 1);
    if (p !== null) return p;
  }
  return null;
}
