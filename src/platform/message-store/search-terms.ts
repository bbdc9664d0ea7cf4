/**
 * How message text is cut into searchable terms, shared by the message store adapters
 * (the MongoDB one indexes these terms; the SQL one builds its prefix tsquery from them)
 * and by the search service (snippet highlighting). Language-neutral: a term is a run of
 * letters and digits in any script, lowercased; no stemming and no stop words, matching
 * PostgreSQL's 'simple' text search configuration.
 */

/** Longest term kept (longer runs are cut; a prefix of them still matches). */
export const MAX_TERM_LENGTH = 64;
/** Most terms taken from one search query. */
export const MAX_QUERY_TERMS = 8;

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

/** The distinct terms of a text, in first-seen order. */
export function searchTerms(text: string | null): string[] {
  if (!text) return [];
  const out = new Set<string>();
  for (const m of text.matchAll(WORD)) out.add(m[0].toLowerCase().slice(0, MAX_TERM_LENGTH));
  return [...out];
}

/** The words of a text with their positions, for highlighting. */
export function words(text: string): { start: number; end: number; lower: string }[] {
  const out: { start: number; end: number; lower: string }[] = [];
  for (const m of text.matchAll(WORD)) out.push({ start: m.index, end: m.index + m[0].length, lower: m[0].toLowerCase() });
  return out;
}

/** Escapes a term for use in a regular expression (terms are letters and digits, but be safe). */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
