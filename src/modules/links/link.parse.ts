/**
 * Link handling without a DOM: the URLs in a message's text, and the Open Graph / Twitter
 * card / <title> data of a fetched page. The result is plain text fields; clients render
 * them as text, never as HTML.
 */

/** At most this many links of one message are previewed. */
export const MAX_LINKS_PER_MESSAGE = 3;

/** The http(s) URLs in `text`, in order, without trailing punctuation, deduplicated. */
export function extractUrls(text: string | null | undefined, max = MAX_LINKS_PER_MESSAGE): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const m of text.matchAll(/https?:\/\/[^\s<>"'`]+/gi)) {
    let url = m[0].replace(/[.,;:!?]+$/, '');
    // A closing bracket belongs to the URL only when it opened one inside it (Markdown links, prose).
    while (/[)\]]$/.test(url) && (url.match(/[([]/g)?.length ?? 0) < (url.match(/[)\]]/g)?.length ?? 0)) url = url.slice(0, -1);
    try {
      url = new URL(url).toString();
    } catch {
      continue;
    }
    if (!out.includes(url)) out.push(url);
    if (out.length >= max) break;
  }
  return out;
}

export interface PageMeta {
  title: string | null;
  description: string | null;
  imageUrl: string | null;
  siteName: string | null;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e: string) => {
    if (e[0] === '#') {
      const code = e[1]?.toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    }
    return ENTITIES[e.toLowerCase()] ?? all;
  });
}

function clean(s: string | undefined, max: number): string | null {
  if (!s) return null;
  const t = decodeEntities(s).replace(/\s+/g, ' ').trim();
  if (!t) return null;
  return [...t].length > max ? `${[...t].slice(0, max - 1).join('')}…` : t;
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-z:_-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/gi)) out[m[1]!.toLowerCase()] = m[3] ?? m[4] ?? m[5] ?? '';
  return out;
}

/** The preview fields of an HTML page (`base` resolves a relative image URL). */
export function parsePageMeta(html: string, base: string): PageMeta {
  const head = html.slice(0, 200_000);
  const meta: Record<string, string> = {};
  for (const m of head.matchAll(/<meta\b[^>]*>/gi)) {
    const a = attrs(m[0]);
    const key = (a.property ?? a.name ?? '').toLowerCase();
    if (key && a.content !== undefined && !(key in meta)) meta[key] = a.content;
  }
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(head)?.[1];
  let imageUrl: string | null = null;
  const rawImage = meta['og:image'] ?? meta['og:image:url'] ?? meta['twitter:image'];
  if (rawImage) {
    try {
      const u = new URL(decodeEntities(rawImage), base);
      if (u.protocol === 'https:' || u.protocol === 'http:') imageUrl = u.toString();
    } catch {
      /* no image */
    }
  }
  return {
    title: clean(meta['og:title'] ?? meta['twitter:title'] ?? title, 200),
    description: clean(meta['og:description'] ?? meta['twitter:description'] ?? meta.description, 300),
    imageUrl,
    siteName: clean(meta['og:site_name'], 100),
  };
}
