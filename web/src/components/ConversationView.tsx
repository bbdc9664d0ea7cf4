import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { Conversation, Message } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { CallButtons } from './CallButtons.js';
import { Composer, type ComposerHandle } from './Composer.js';
import { MessageItem, RichText } from './MessageItem.js';
import { ConversationTools, useFocusedMessage } from './ConversationTools.js';

const CONTINUE_MS = 5 * 60 * 1000;

function listNames(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** One conversation: header, history (older pages on scroll up), typing, composer. */
export function ConversationView(props: { conversation: Conversation; onBack: () => void; onMembers: () => void }) {
  const model = useModel();
  const s = useChat();
  const c = props.conversation;
  const title = model.titleOf(c);
  const messages = useMemo(() => s.messages[c.id] ?? [], [s.messages, c.id]);
  const history = s.history[c.id];
  const members = s.members[c.id];
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const composer = useRef<ComposerHandle>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const firstSeq = useRef<number | undefined>(undefined);
  const prevHeight = useRef(0);

  // Opening a conversation: reset the local UI state and put the cursor in the composer.
  useEffect(() => {
    setReplyTo(null);
    setEditing(null);
    atBottom.current = true;
    firstSeq.current = undefined;
    composer.current?.focus();
  }, [c.id]);

  const myId = s.me.id;
  const pending = s.pending.filter((p) => p.conversationId === c.id && !messages.some((m) => m.senderId === myId && m.clientMsgId === p.clientMsgId));
  const failed = s.failed.filter((f) => f.item.conversationId === c.id);

  // Keep the view anchored: at the bottom for new messages, in place when older ones load.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = messages[0]?.seq;
    if (firstSeq.current !== undefined && first !== undefined && first < firstSeq.current && !atBottom.current) {
      el.scrollTop += el.scrollHeight - prevHeight.current;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    firstSeq.current = first;
    prevHeight.current = el.scrollHeight;
  }, [messages, pending.length, s.typing, c.id]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    prevHeight.current = el.scrollHeight;
    if (el.scrollTop < 120) void model.loadOlder(c.id);
  }, [model, c.id]);

  // A first page shorter than the view cannot be scrolled: load more until it can.
  useEffect(() => {
    const el = scroller.current;
    if (el && history?.loaded && history.hasMore && !history.loading && el.scrollHeight <= el.clientHeight + 10) void model.loadOlder(c.id);
  }, [history, model, c.id, messages.length]);

  useFocusedMessage(c.id, messages, !!history?.hasMore, !!history?.loading, scroller);

  const byId = useMemo(() => new Map(messages.map((m) => [m.id, m])), [messages]);
  const canModerate = c.type === 'group' && (c.role === 'owner' || c.role === 'admin');

  // "Seen": under my newest message, who has read up to it.
  const lastMine = [...messages].reverse().find((m) => m.senderId === myId && m.kind !== 'system' && !m.deletedAt);
  let seenBy: string | undefined;
  if (lastMine && members) {
    const readers = members.filter((m) => m.userId !== myId && m.lastReadSeq >= lastMine.seq);
    if (readers.length) seenBy = c.type === 'direct' ? 'Seen' : `Seen by ${listNames(readers.map((r) => model.displayName(r.userId)))}`;
  }

  const typing = (s.typing[c.id] ?? []).map((id) => model.displayName(id));
  const peerPresence = c.peerId ? s.presence[c.peerId] : undefined;
  const subtitle = c.type === 'direct' ? (peerPresence === 'online' ? 'Online' : peerPresence === 'offline' ? 'Offline' : '') : `${c.memberCount} member${c.memberCount === 1 ? '' : 's'}`;

  const onEditLast = () => {
    const mine = [...messages].reverse().find((m) => m.senderId === myId && m.kind === 'user' && !m.deletedAt && m.text !== null);
    if (mine) setEditing(mine.id);
  };

  return (
    <section className="conversation" aria-label={`Conversation with ${title}`}>
      <header className="conversation-head">
        <button type="button" className="icon-button back" onClick={props.onBack} aria-label="Back to conversations">
          ←
        </button>
        {c.type === 'direct' ? <Avatar user={c.peerId ? s.users[c.peerId] : undefined} id={c.peerId ?? c.id} name={title} presence={peerPresence ?? 'offline'} /> : <Avatar name={title} id={c.id} />}
        <div className="conversation-title">
          <h2>{title}</h2>
          <span className="muted" data-testid="conversation-subtitle">
            {subtitle}
            {c.topic ? ` · ${c.topic}` : ''}
          </span>
        </div>
        <CallButtons conversation={c} />
        <ConversationTools conversation={c} />
        {c.type === 'group' ? (
          <button type="button" className="secondary" onClick={props.onMembers}>
            Members
          </button>
        ) : null}
      </header>
      <div className="messages" ref={scroller} onScroll={onScroll}>
        {history?.loading ? (
          <p className="muted center" role="status">
            Loading…
          </p>
        ) : history?.loaded && !history.hasMore ? (
          <p className="muted center">This is the beginning of the conversation.</p>
        ) : null}
        <ol className="message-list" role="log" aria-label="Messages" aria-live="polite" aria-relevant="additions">
          {messages.map((m, i) => {
            const prev = messages[i - 1];
            const continued = !!prev && prev.kind === 'user' && m.kind === 'user' && prev.senderId === m.senderId && !m.replyToId && Date.parse(m.createdAt) - Date.parse(prev.createdAt) < CONTINUE_MS;
            return (
              <MessageItem
                key={m.id}
                m={m}
                continued={continued}
                canModerate={canModerate}
                replyTo={m.replyToId ? byId.get(m.replyToId) : undefined}
                onReply={(msg) => {
                  setReplyTo(msg);
                  composer.current?.focus();
                }}
                editing={editing === m.id}
                setEditing={(id) => {
                  setEditing(id);
                  if (!id) composer.current?.focus();
                }}
                seenBy={m === lastMine ? seenBy : undefined}
              />
            );
          })}
          {pending.map((p) => (
            <li key={p.clientMsgId} className="message mine pending" data-testid="pending-message">
              <div className="message-gutter" />
              <div className="message-main">
                {p.text ? (
                  <p className="message-text">
                    <RichText text={p.text} users={s.users} mentions={[]} />
                  </p>
                ) : null}
                {p.attachments?.length ? <p className="muted">📎 {p.attachments.length} attachment(s)</p> : null}
                <span className="muted small">{s.connection === 'online' ? 'Sending…' : 'Waiting for the connection…'}</span>
              </div>
            </li>
          ))}
          {failed.map((f) => (
            <li key={f.item.clientMsgId} className="message mine failed" role="alert">
              <div className="message-gutter" />
              <div className="message-main">
                <p className="message-text">{f.item.text}</p>
                <span className="error small">Not sent: {f.error}</span>{' '}
                <button type="button" className="link-button" onClick={() => void model.retryFailed(f)}>
                  Retry
                </button>{' '}
                <button type="button" className="link-button" onClick={() => model.dismissFailed(f.item.clientMsgId)}>
                  Dismiss
                </button>
              </div>
            </li>
          ))}
        </ol>
      </div>
      <div className="typing" aria-live="polite" data-testid="typing">
        {typing.length ? `${listNames(typing)} ${typing.length > 1 ? 'are' : 'is'} typing…` : ''}
      </div>
      <Composer ref={composer} conversation={c} title={title} replyTo={replyTo} clearReply={() => setReplyTo(null)} onEditLast={onEditLast} />
    </section>
  );
}
