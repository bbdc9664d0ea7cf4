/**
 * Emoji data for the picker and for `:shortcode:`s, from the `emojibase-data` package
 * (Unicode's list with GitHub's shortcodes). It ships in the app as a separate chunk,
 * loaded on first use: nothing is downloaded from anywhere else at run time.
 */
import { useEffect, useState } from 'react';

export interface Emoji {
  unicode: string;
  label: string;
  shortcodes: string[];
  tags: string[];
}

export interface EmojiGroup {
  key: string;
  label: string;
  emojis: Emoji[];
}

export interface EmojiData {
  groups: EmojiGroup[];
  /** `tada` → 🎉 */
  byShortcode: Map<string, string>;
}

const GROUPS: readonly (readonly [number, string, string])[] = [
  [0, 'smileys', 'Smileys & emotion'],
  [1, 'people', 'People & body'],
  [3, 'nature', 'Animals & nature'],
  [4, 'food', 'Food & drink'],
  [5, 'travel', 'Travel & places'],
  [6, 'activities', 'Activities'],
  [7, 'objects', 'Objects'],
  [8, 'symbols', 'Symbols'],
  [9, 'flags', 'Flags'],
];

/**
 * Which of these emoji this browser draws as one glyph: the list is newer than most
 * installed emoji fonts, and an emoji the font lacks shows as a blank, a box or several
 * pieces. Null when no colour emoji font is there at all (then everything is offered).
 *
 * All of them are drawn on one canvas, each clipped to its own cell, and read back with a
 * single getImageData: one readback per emoji took seconds on a slow machine (and left
 * `:shortcodes:` and the picker waiting for it).
 */
function drawable(emojis: readonly string[]): boolean[] | null {
  if (typeof document === 'undefined') return null;
  const CELL = 24;
  const COLS = 48;
  // Two reference cells first: nothing drawn (blank) and a code point no font has (tofu).
  const items = ['', '\u{10FFFD}', '😀', ...emojis];
  const c = document.createElement('canvas');
  c.width = COLS * CELL;
  c.height = Math.ceil(items.length / COLS) * CELL;
  const g = c.getContext('2d', { willReadFrequently: true });
  if (!g) return null;
  g.font = "18px 'Noto Color Emoji', 'Apple Color Emoji', 'Segoe UI Emoji', sans-serif";
  g.textBaseline = 'top';
  items.forEach((e, i) => {
    if (!e) return;
    const x = (i % COLS) * CELL;
    const y = Math.floor(i / COLS) * CELL;
    g.save();
    g.beginPath();
    g.rect(x, y, CELL, CELL);
    g.clip();
    g.fillText(e, x, y);
    g.restore();
  });
  const d = g.getImageData(0, 0, c.width, c.height).data;
  // Every fourth pixel's alpha of a cell: enough to tell a glyph from a blank or a box.
  const key = (i: number): string => {
    const x0 = (i % COLS) * CELL;
    const y0 = Math.floor(i / COLS) * CELL;
    let k = '';
    for (let y = 0; y < CELL; y++) for (let x = 0; x < CELL; x += 4) k += d[((y0 + y) * c.width + x0 + x) * 4 + 3]! > 0 ? '1' : '0';
    return k;
  };
  const blank = key(0);
  const tofu = key(1);
  const smile = key(2);
  if (smile === blank || smile === tofu) return null;
  const base = g.measureText('😀').width;
  return emojis.map((e, i) => {
    const k = key(i + 3);
    return k !== blank && k !== tofu && g.measureText(e).width <= base * 1.4;
  });
}

let loading: Promise<EmojiData> | undefined;
let loaded: EmojiData | undefined;

/** Loads (once) the emoji list and shortcodes; a failed load (a chunk that did not arrive) is tried again on the next call. */
export function loadEmoji(): Promise<EmojiData> {
  loading ??= Promise.all([import('emojibase-data/en/compact.json'), import('emojibase-data/en/shortcodes/github.json')]).then(
    ([compact, github]) => {
      const codes = github.default as Record<string, string | string[]>;
      const list = [...(compact.default as { hexcode: string; label: string; unicode: string; group?: number; order?: number; tags?: string[] }[])].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
      const byShortcode = new Map<string, string>();
      const groups: EmojiGroup[] = GROUPS.map(([, key, label]) => ({ key, label, emojis: [] }));
      const shown = drawable(list.map((e) => e.unicode));
      list.forEach((e, i) => {
        const sc = codes[e.hexcode];
        const shortcodes = sc === undefined ? [] : Array.isArray(sc) ? sc : [sc];
        for (const s of shortcodes) byShortcode.set(s, e.unicode);
        const gi = GROUPS.findIndex(([g]) => g === e.group);
        if (gi >= 0 && (!shown || shown[i])) groups[gi]!.emojis.push({ unicode: e.unicode, label: e.label, shortcodes, tags: e.tags ?? [] });
      });
      loaded = { groups, byShortcode };
      return loaded;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** The emoji data once loaded (null until then; the component re-renders when it arrives). */
export function useEmojiData(): EmojiData | null {
  const [data, setData] = useState<EmojiData | null>(loaded ?? null);
  useEffect(() => {
    if (data) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A chunk that failed to load (a network blip) is fetched again, a few seconds apart.
    const attempt = (left: number) =>
      loadEmoji().then(
        (d) => live && setData(d),
        () => {
          if (live && left > 0) timer = setTimeout(() => void attempt(left - 1), 3000);
        },
      );
    void attempt(5);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [data]);
  return data;
}

const SHORTCODE = /:([a-z0-9_+-]{1,40}):/g;

/** Replaces known `:shortcode:`s with their emoji (unknown ones stay as typed). */
export function replaceShortcodes(text: string, map: Map<string, string> | undefined): string {
  if (!map || !text.includes(':')) return text;
  return text.replace(SHORTCODE, (all, name: string) => map.get(name) ?? all);
}

const RECENT_KEY = 'parley.recentEmoji';
export const DEFAULT_QUICK = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

/** The reactions shown first: recently used, then the usual six. */
export function recentEmoji(): string[] {
  try {
    const saved = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]') as unknown;
    const list = Array.isArray(saved) ? saved.filter((x): x is string => typeof x === 'string') : [];
    return [...new Set([...list, ...DEFAULT_QUICK])].slice(0, 6);
  } catch {
    return DEFAULT_QUICK;
  }
}

export function rememberEmoji(e: string): void {
  try {
    const list = [e, ...recentEmoji().filter((x) => x !== e)].slice(0, 12);
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    /* not kept */
  }
}
