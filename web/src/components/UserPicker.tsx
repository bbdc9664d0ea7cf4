import { useEffect, useId, useState } from 'react';
import type { User } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';

/** A search box for people: type a name, pick one from the results. */
export function UserPicker(props: { label: string; placeholder?: string; onPick: (u: User) => void; exclude?: readonly string[]; autoFocus?: boolean }) {
  const model = useModel();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<User[]>([]);
  const [searching, setSearching] = useState(false);
  const inputId = useId();
  const listId = useId();
  const exclude = props.exclude;

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults([]);
      return;
    }
    let cancelled = false;
    const t = setTimeout(() => {
      setSearching(true);
      model
        .searchUsers(q)
        .then((users) => {
          if (!cancelled) setResults(users.filter((u) => !exclude?.includes(u.id)));
        })
        .catch(() => {
          if (!cancelled) setResults([]);
        })
        .finally(() => {
          if (!cancelled) setSearching(false);
        });
    }, 200);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }, [query, model, exclude]);

  return (
    <div className="user-picker">
      <label htmlFor={inputId} className="visually-hidden">
        {props.label}
      </label>
      <input
        id={inputId}
        type="search"
        value={query}
        placeholder={props.placeholder ?? props.label}
        onChange={(e) => setQuery(e.target.value)}
        autoComplete="off"
        aria-controls={listId}
        autoFocus={props.autoFocus}
      />
      {query.trim() ? (
        <ul id={listId} className="picker-results" aria-label="People found" aria-busy={searching}>
          {results.map((u) => (
            <li key={u.id}>
              <button
                type="button"
                className="picker-result"
                onClick={() => {
                  props.onPick(u);
                  setQuery('');
                }}
              >
                <Avatar user={u} size={28} />
                <span className="picker-name">{u.displayName || u.username}</span>
                <span className="muted">@{u.username}</span>
              </button>
            </li>
          ))}
          {!searching && results.length === 0 ? <li className="muted picker-empty">No one found</li> : null}
        </ul>
      ) : null}
    </div>
  );
}
