import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { SearchHit } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { featuresOf } from '../lib/features.js';
import { timeOf } from '../lib/format.js';
import { Dialog } from './Dialog.js';

/** The snippet with its matched words marked (as text nodes: nothing is parsed as HTML). */
function Snippet(props: { hit: SearchHit }) {
  const { snippet, highlights } = props.hit;
  const parts: ReactNode[] = [];
  let last = 0;
  highlights.forEach((h, i) => {
    if (h.start > last) parts.push(snippet.slice(last, h.start));
    parts.push(<mark key={i}>{snippet.slice(h.start, h.start + h.length)}</mark>);
    last = h.start + h.length;
  });
  parts.push(snippet.slice(last));
  return <>{parts}</>;
}

/** Message search (Ctrl/Cmd+K): results grouped by conversation; one opens the conversation at that message. */
export function SearchDialog(props: { onClose: () => void; open: (conversationId: string) => void }) {
  const model = useModel();
  const s = useChat();
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const seq = useRef(0);

  useEffect(() => input.current?.focus(), []);

  // Searches as you type, debounced; an older answer never replaces a newer one.
  useEffect(() => {
    const query = q.trim();
    if (!/[\p{L}\p{N}]/u.test(query)) {
      setHits(null);
      setNext(null);
      return;
    }
    const mine = ++seq.current;
    const t = setTimeout(() => {
      setBusy(true);
      void model.attempt('Searching', () => model.client.rest.searchMessages(query, { limit: 30 })).then((r) => {
        if (mine !== seq.current) return;
        setBusy(false);
        setHits(r?.results ?? []);
        setNext(r?.nextCursor ?? null);
      });
    }, 200);
    return () => clearTimeout(t);
  }, [q, model]);

  const more = async () => {
    if (!next) return;
    const r = await model.attempt('Searching', () => model.client.rest.searchMessages(q.trim(), { limit: 30, cursor: next }));
    if (!r) return;
    setHits([...(hits ?? []), ...r.results]);
    setNext(r.nextCursor);
  };

  // Grouped by conversation, in the order their newest result came.
  const groups = new Map<string, SearchHit[]>();
  for (const h of hits ?? []) groups.set(h.conversationId, [...(groups.get(h.conversationId) ?? []), h]);
  void model.ensureUsers([...new Set((hits ?? []).map((h) => h.message.senderId))]);

  const openHit = (h: SearchHit) => {
    featuresOf(model).focusMessage({ conversationId: h.conversationId, messageId: h.message.id, seq: h.seq });
    props.open(h.conversationId);
    props.onClose();
  };

  return (
    <Dialog title="Search messages" onClose={props.onClose} wide>
      <input
        ref={input}
        type="search"
        className="search-input"
        aria-label="Search messages"
        placeholder="Search messages…"
        value={q}
        maxLength={200}
        onChange={(e) => setQ(e.target.value)}
      />
      <div className="search-results" data-testid="search-results" aria-busy={busy}>
        {hits && hits.length === 0 ? <p className="muted">No messages found.</p> : null}
        {[...groups].map(([cid, list]) => {
          const conv = s.conversations.find((c) => c.id === cid);
          return (
            <section key={cid} className="search-group" aria-label={`Results in ${conv ? model.titleOf(conv) : 'a conversation'}`}>
              <h3>{conv ? model.titleOf(conv) : 'Conversation'}</h3>
              <ul>
                {list.map((h) => (
                  <li key={h.message.id}>
                    <button type="button" className="search-hit" onClick={() => openHit(h)}>
                      <strong>{model.displayName(h.message.senderId)}</strong> <time className="muted small">{timeOf(h.message.createdAt)}</time>
                      <span className="search-snippet">
                        <Snippet hit={h} />
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
        {next ? (
          <button type="button" className="secondary" onClick={() => void more()}>
            More results
          </button>
        ) : null}
      </div>
    </Dialog>
  );
}
