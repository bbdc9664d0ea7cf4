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
 * A check whether this browser draws an emoji as one glyph: the list is newer than most
 * installed emoji fonts, and an emoji the font lacks shows as a blank, a box or several
 * pieces. Null when no colour emoji font is there at all (then everything is offered).
 */
function glyphCheck(): ((e: string) => boolean) | null {
  if (typeof document === 'undefined') return null;
  const c = document.createElement('canvas');
  c.width = c.height = 24;
  const g = c.getContext('2d', { willReadFrequently: true });
  if (!g) return null;
  g.font = "18px 'Noto Color Emoji', 'Apple Color Emoji', 'Segoe UI Emoji', sans-serif";
  g.textBaseline = 'top';
  const pixels = (e: string): string => {
    g.clearRect(0, 0, 24, 24);
    g.fillText(e, 0, 0);
    const d = g.getImageData(0, 0, 24, 24).data;
    let key = '';
    for (let i = 3; i < d.length; i += 16) key += d[i]! > 0 ? '1' : '0';
    return key;
  };
  const blank = pixels('');
  const tofu = pixels('\u{10FFFD}');
  const base = g.measureText('😀').width;
  if (pixels('😀') === blank || pixels('😀') === tofu) return null;
  return (e) => {
    const p = pixels(e);
    return p !== blank && p !== tofu && g.measureText(e).width <= base * 1.4;
  };
}

let loading: Promise<EmojiData> | undefined;
let loaded: EmojiData | undefined;

/** Loads (once) the emoji list and shortcodes. */
export function loadEmoji(): Promise<EmojiData> {
  loading ??= Promise.all([import('emojibase-data/en/compact.json'), import('emojibase-data/en/shortcodes/github.json')]).then(([compact, github]) => {
    const codes = github.default as Record<string, string | string[]>;
    const list = compact.default as { hexcode: string; label: string; unicode: string; group?: number; order?: number; tags?: string[] }[];
    const byShortcode = new Map<string, string>();
    const groups: EmojiGroup[] = GROUPS.map(([, key, label]) => ({ key, label, emojis: [] }));
    const drawable = glyphCheck();
    for (const e of [...list].sort((a, b) => (a.order ?? 0) - (b.order ?? 0))) {
      const sc = codes[e.hexcode];
      const shortcodes = sc === undefined ? [] : Array.isArray(sc) ? sc : [sc];
      for (const s of shortcodes) byShortcode.set(s, e.unicode);
      const gi = GROUPS.findIndex(([g]) => g === e.group);
      if (gi >= 0 && (!drawable || drawable(e.unicode))) groups[gi]!.emojis.push({ unicode: e.unicode, label: e.label, shortcodes, tags: e.tags ?? [] });
    }
    loaded = { groups, byShortcode };
    return loaded;
  });
  return loading;
}

/** The emoji data once loaded (null until then; the component re-renders when it arrives). */
export function useEmojiData(): EmojiData | null {
  const [data, setData] = useState<EmojiData | null>(loaded ?? null);
  useEffect(() => {
    if (data) return;
    let live = true;
    void loadEmoji().then((d) => live && setData(d));
    return () => {
      live = false;
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
