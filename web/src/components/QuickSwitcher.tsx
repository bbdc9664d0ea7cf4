import { useEffect, useMemo, useRef, useState } from 'react';
import type { User } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { Search } from './Icons.js';

type Item = { kind: 'search'; query: string } | { kind: 'conversation'; id: string; title: string; sub: string; peer?: User | undefined } | { kind: 'person'; user: User };

/**
 * Ctrl/Cmd+K: jump to a conversation by name, or start one with someone found by name.
 * Arrow keys move, Enter opens, Escape closes.
 */
export function QuickSwitcher(props: { onOpen: (conversationId: string) => void; onClose: () => void; onSearchMessages?: (query: string) => void }) {
  const model = useModel();
  const s = useChat();
  const [query, setQuery] = useState('');
  const [people, setPeople] = useState<User[]>([]);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const opener = useRef<HTMLElement | null>(null);

  useEffect(() => {
    opener.current = document.activeElement as HTMLElement | null;
    input.current?.focus();
    return () => opener.current?.focus?.();
  }, []);

  useEffect(() => {
    const q = query.trim();
    if (q.length < 2) return setPeople([]);
    let live = true;
    const t = setTimeout(() => {
      void model.searchUsers(q).then((u) => live && setPeople(u), () => live && setPeople([]));
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [model, query]);

  const items: Item[] = useMemo(() => {
    const q = query.trim().toLowerCase();
    const convs = s.conversations
      .map((c) => ({ c, title: model.titleOf(c) }))
      .filter(({ title, c }) => !q || title.toLowerCase().includes(q) || (c.topic ?? '').toLowerCase().includes(q))
      .slice(0, 12)
      .map(({ c, title }): Item => ({ kind: 'conversation', id: c.id, title, sub: c.type === 'group' ? `${c.memberCount} members` : 'Direct message', peer: c.peerId ? s.users[c.peerId] : undefined }));
    const directPeers = new Set(s.conversations.map((c) => c.peerId).filter(Boolean));
    const found = people.filter((u) => !directPeers.has(u.id)).slice(0, 5).map((user): Item => ({ kind: 'person', user }));
    const search: Item[] = props.onSearchMessages && q ? [{ kind: 'search', query: query.trim() }] : [];
    return [...convs, ...found, ...search];
  }, [s.conversations, s.users, people, query, model, props.onSearchMessages]);
  const index = Math.min(active, Math.max(0, items.length - 1));

  const choose = async (item: Item | undefined) => {
    if (!item) return;
    if (item.kind === 'search') {
      props.onClose();
      props.onSearchMessages?.(item.query);
      return;
    }
    if (item.kind === 'conversation') {
      props.onClose();
      props.onOpen(item.id);
      return;
    }
    const c = await model.attempt('Starting the conversation', () => model.openDirect(item.user.id));
    props.onClose();
    if (c) props.onOpen(c.id);
  };

  return (
    <div className="switcher" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div className="switcher-box" role="dialog" aria-modal="true" aria-label="Jump to a conversation">
        <input
          ref={input}
          value={query}
          role="combobox"
          aria-expanded="true"
          aria-controls="switcher-list"
          aria-activedescendant={items.length ? `switcher-${index}` : undefined}
          aria-label="Jump to a conversation or person"
          placeholder="Jump to…"
          onChange={(e) => {
            setQuery(e.target.value);
            setActive(0);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              props.onClose();
            } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              if (items.length) setActive((index + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length);
            } else if (e.key === 'Enter') {
              e.preventDefault();
              void choose(items[index]);
            }
          }}
        />
        <ul className="switcher-list" id="switcher-list" role="listbox" aria-label="Matches">
          {items.map((it, i) => (
            <li
              key={it.kind === 'conversation' ? it.id : it.kind === 'person' ? `p-${it.user.id}` : 'search'}
              id={`switcher-${i}`}
              role="option"
              aria-selected={i === index}
              onMouseEnter={() => setActive(i)}
              onMouseDown={(e) => {
                e.preventDefault();
                void choose(it);
              }}
            >
              {it.kind === 'search' ? (
                <>
                  <Search size={18} aria-hidden={true} />
                  <span>Search messages for “{it.query}”</span>
                </>
              ) : it.kind === 'conversation' ? (
                <>
                  <Avatar user={it.peer} name={it.title} id={it.id} size={26} />
                  <span>{it.title}</span>
                  <span className="muted small">{it.sub}</span>
                </>
              ) : (
                <>
                  <Avatar user={it.user} size={26} />
                  <span>{it.user.displayName || it.user.username}</span>
                  <span className="muted small">@{it.user.username} · start a conversation</span>
                </>
              )}
            </li>
          ))}
          {items.length === 0 ? <li className="muted">No match</li> : null}
        </ul>
        <div className="switcher-hint muted">
          <span className="kbd">↑</span> <span className="kbd">↓</span> to move, <span className="kbd">Enter</span> to open, <span className="kbd">Esc</span> to close
        </div>
      </div>
    </div>
  );
}
