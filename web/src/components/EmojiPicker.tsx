import { useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { recentEmoji, useEmojiData, type Emoji } from '../lib/emoji.js';
import type { ComponentType } from 'react';
import { Car, Flag, Hand, Hash, Lightbulb, PawPrint, Pizza, Search, Smile, Trophy } from './Icons.js';

const GROUP_ICONS: Record<string, ComponentType<{ size?: number; 'aria-hidden'?: boolean }>> = { smileys: Smile, people: Hand, nature: PawPrint, food: Pizza, travel: Car, activities: Trophy, objects: Lightbulb, symbols: Hash, flags: Flag };

/**
 * A full emoji picker (every Unicode emoji, by group, searchable by name, tag or
 * shortcode), positioned next to `anchor` and kept inside the viewport. Escape or a click
 * outside closes it.
 */
export function EmojiPicker(props: { anchor: HTMLElement | null; onPick: (emoji: string) => void; onClose: () => void; label?: string }) {
  const data = useEmojiData();
  const [query, setQuery] = useState('');
  const [pos, setPos] = useState<{ left: number; top: number }>({ left: 8, top: 8 });
  const ref = useRef<HTMLDivElement>(null);
  const scroll = useRef<HTMLDivElement>(null);
  const search = useRef<HTMLInputElement>(null);

  useLayoutEffect(() => {
    const box = ref.current;
    if (!box) return;
    const w = box.offsetWidth;
    const h = box.offsetHeight;
    const r = props.anchor?.getBoundingClientRect();
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    let left = r ? r.right - w : (vw - w) / 2;
    let top = r ? r.top - h - 6 : (vh - h) / 2;
    if (r && top < 8) top = r.bottom + 6;
    left = Math.max(8, Math.min(left, vw - w - 8));
    top = Math.max(8, Math.min(top, vh - h - 8));
    setPos({ left, top });
  }, [props.anchor]);

  useEffect(() => {
    search.current?.focus({ preventScroll: true });
  }, []);

  const results = useMemo(() => {
    const q = query.trim().toLowerCase().replace(/^:|:$/g, '');
    if (!data || !q) return null;
    const out: Emoji[] = [];
    for (const g of data.groups) {
      for (const e of g.emojis) {
        if (e.label.includes(q) || e.shortcodes.some((s) => s.includes(q)) || e.tags.some((t) => t.startsWith(q))) out.push(e);
        if (out.length >= 160) return out;
      }
    }
    return out;
  }, [data, query]);

  const pick = (e: string) => {
    props.onPick(e);
    props.onClose();
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      e.preventDefault();
      props.onClose();
    }
  };

  const button = (e: Emoji | string) => {
    const unicode = typeof e === 'string' ? e : e.unicode;
    const label = typeof e === 'string' ? e : `${e.label}${e.shortcodes[0] ? ` :${e.shortcodes[0]}:` : ''}`;
    return (
      <button type="button" key={unicode} title={label} aria-label={label} onClick={() => pick(unicode)}>
        {unicode}
      </button>
    );
  };

  return (
    <>
      <div className="emoji-backdrop" onClick={props.onClose} />
      <div className="emoji-picker" role="dialog" aria-label={props.label ?? 'Emoji picker'} ref={ref} style={{ left: pos.left, top: pos.top }} onKeyDown={onKey}>
        <div className="emoji-picker-head">
          <label className="visually-hidden" htmlFor="emoji-search">
            Search emoji
          </label>
          <div className="with-icon" style={{ width: '100%' }}>
            <Search size={16} aria-hidden="true" />
            <input id="emoji-search" ref={search} value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search emoji (e.g. tada)" autoComplete="off" />
          </div>
        </div>
        {!results && data ? (
          <nav className="emoji-tabs" aria-label="Emoji groups">
            {data.groups.map((g) => (
              <button
                type="button"
                key={g.key}
                title={g.label}
                aria-label={g.label}
                onClick={() => scroll.current?.querySelector(`[data-group="${g.key}"]`)?.scrollIntoView({ block: 'start' })}
              >
                {(() => {
                  const Icon = GROUP_ICONS[g.key] ?? Smile;
                  return <Icon size={18} aria-hidden={true} />;
                })()}
              </button>
            ))}
          </nav>
        ) : null}
        <div className="emoji-scroll" ref={scroll}>
          {!data ? (
            <p className="muted center">Loading emoji…</p>
          ) : results ? (
            results.length ? (
              <div className="emoji-grid" role="group" aria-label="Search results">
                {results.map(button)}
              </div>
            ) : (
              <p className="muted center">No emoji found.</p>
            )
          ) : (
            <>
              <h4>Frequently used</h4>
              <div className="emoji-grid" role="group" aria-label="Frequently used">
                {recentEmoji().map(button)}
              </div>
              {data.groups.map((g) => (
                <section key={g.key} data-group={g.key} aria-label={g.label}>
                  <h4>{g.label}</h4>
                  <div className="emoji-grid">{g.emojis.map(button)}</div>
                </section>
              ))}
            </>
          )}
        </div>
      </div>
    </>
  );
}
