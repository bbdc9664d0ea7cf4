import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { Conversation, Message } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { CallButtons } from './CallButtons.js';
import { Composer, type ComposerHandle } from './Composer.js';
import { ArrowDown, ArrowLeft, Paperclip, Users } from './Icons.js';
import { MessageItem, RichText } from './MessageItem.js';
import { NotificationMenu } from './NotificationMenu.js';
import { openProfile } from './ProfileCard.js';
import { ConversationTools, useFocusedMessage } from './ConversationTools.js';
import { featuresOf } from '../lib/features.js';

const CONTINUE_MS = 5 * 60 * 1000;

/** Where each conversation was scrolled to (this tab's lifetime): restored when it is opened again. */
const scrollMemory = new Map<string, { top: number; atBottom: boolean }>();

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
  // Thread replies live in the thread panel, not in the conversation's timeline.
  const messages = useMemo(() => (s.messages[c.id] ?? []).filter((m) => !m.threadRootId), [s.messages, c.id]);
  const history = s.history[c.id];
  const members = s.members[c.id];
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const composer = useRef<ComposerHandle>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const remembered = scrollMemory.get(c.id);
  const atBottom = useRef(remembered?.atBottom ?? true);
  const firstSeq = useRef<number | undefined>(undefined);
  const prevHeight = useRef(0);
  // Read position when the conversation was opened: the "New messages" divider goes above
  // the first later message from someone else. Taken before opening marks it read.
  const [unreadAfter] = useState<number | null>(() => (c.unreadCount > 0 ? (c.lastReadSeq ?? 0) : null));
  const [unreadCount] = useState(c.unreadCount);
  const placed = useRef(false);
  const [dividerAbove, setDividerAbove] = useState(false);
  const [newWhileUp, setNewWhileUp] = useState(0);
  const lastSeenSeq = useRef(0);

  // Opening a conversation: put the cursor in the composer (the view is keyed by conversation).
  useEffect(() => {
    composer.current?.focus({ preventScroll: true });
  }, []);

  const myId = s.me.id;
  const pending = s.pending.filter((p) => p.conversationId === c.id && !messages.some((m) => m.senderId === myId && m.clientMsgId === p.clientMsgId));
  const failed = s.failed.filter((f) => f.item.conversationId === c.id);

  // Only once the history reaches back to the read position (seqs have no gaps), else the
  // divider would sit above the oldest loaded message instead of the first unread.
  const reachesRead = unreadAfter !== null && (!!messages[0] && messages[0].seq <= unreadAfter + 1 || (history?.loaded === true && !history.hasMore));
  const firstUnread = unreadAfter === null || !reachesRead ? undefined : messages.find((m) => m.seq > unreadAfter && m.senderId !== myId && m.kind !== 'system');

  // Once the divider has been on screen, the first unread was seen: no more "jump" button.
  const [dividerSeen, setDividerSeen] = useState(false);
  const updateDividerAbove = useCallback(() => {
    const el = scroller.current;
    const d = el?.querySelector<HTMLElement>('[data-testid="unread-divider"]');
    if (!el || !d) return;
    if (d.offsetTop >= el.scrollTop && d.offsetTop <= el.scrollTop + el.clientHeight) setDividerSeen(true);
    setDividerAbove(d.offsetTop < el.scrollTop);
  }, []);
  // The first unread is further back than what is loaded, or loaded but scrolled past above.
  const showJump = unreadAfter !== null && !dividerSeen && (firstUnread ? dividerAbove : !!history?.hasMore);

  // Keep the view anchored: on open at the first unread (or where it was left), at the
  // bottom for new messages, in place when older ones load.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = messages[0]?.seq;
    if (!placed.current && history?.loaded) {
      placed.current = true;
      const d = el.querySelector<HTMLElement>('[data-testid="unread-divider"]');
      if (d) {
        el.scrollTop = Math.max(0, d.offsetTop - 8);
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      } else if (remembered && !remembered.atBottom) {
        el.scrollTop = remembered.top;
        atBottom.current = false;
      } else el.scrollTop = el.scrollHeight;
    } else if (firstSeq.current !== undefined && first !== undefined && first < firstSeq.current && !atBottom.current) {
      el.scrollTop += el.scrollHeight - prevHeight.current;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    firstSeq.current = first;
    prevHeight.current = el.scrollHeight;
    updateDividerAbove();
  }, [messages, pending.length, s.typing, c.id, history?.loaded, remembered, updateDividerAbove]);

  // New messages from others while scrolled up: counted on a pill instead of moving the view.
  useEffect(() => {
    const last = messages.at(-1);
    if (!last) return;
    if (lastSeenSeq.current === 0 || atBottom.current) {
      lastSeenSeq.current = last.seq;
      return;
    }
    const fresh = messages.filter((m) => m.seq > lastSeenSeq.current && m.senderId !== myId && m.kind !== 'system').length;
    if (fresh) setNewWhileUp((n) => n + fresh);
    lastSeenSeq.current = last.seq;
  }, [messages, myId]);

  const lastTop = useRef(0);
  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    // Older pages load when the user scrolls up near the top, not when the view is placed.
    const up = el.scrollTop < lastTop.current;
    lastTop.current = el.scrollTop;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (atBottom.current) setNewWhileUp(0);
    prevHeight.current = el.scrollHeight;
    scrollMemory.set(c.id, { top: el.scrollTop, atBottom: atBottom.current });
    updateDividerAbove();
    if (up && el.scrollTop < 120) void model.loadOlder(c.id);
  }, [model, c.id, updateDividerAbove]);

  const toBottom = () => {
    const el = scroller.current;
    if (!el) return;
    el.scrollTo({ top: el.scrollHeight });
    atBottom.current = true;
    setNewWhileUp(0);
  };

  // Jump to the first unread: older pages load until it is here, then it scrolls into view.
  const [jumping, setJumping] = useState(false);
  const jumpToUnread = useCallback(async () => {
    setJumping(true);
    try {
      for (let i = 0; i < 40; i++) {
        const d = scroller.current?.querySelector<HTMLElement>('[data-testid="unread-divider"]');
        if (d) {
          scroller.current!.scrollTop = Math.max(0, d.offsetTop - 8);
          atBottom.current = false;
          updateDividerAbove();
          return;
        }
        const h = model.getState().history[c.id];
        if (!h?.hasMore) return;
        await model.loadOlder(c.id);
        await new Promise((r) => requestAnimationFrame(r));
      }
    } finally {
      setJumping(false);
    }
  }, [model, c.id, updateDividerAbove]);

  // A first page shorter than the view cannot be scrolled: load more until it can.
  useEffect(() => {
    const el = scroller.current;
    if (el && history?.loaded && history.hasMore && !history.loading && el.scrollHeight <= el.clientHeight + 10) void model.loadOlder(c.id);
  }, [history, model, c.id, messages.length]);

  useFocusedMessage(c.id, messages, !!history?.hasMore, !!history?.loading, scroller);
  useEffect(() => void featuresOf(model).loadThreads(c.id), [model, c.id]);

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
          <ArrowLeft size={20} aria-hidden={true} />
        </button>
        {c.type === 'direct' && c.peerId ? (
          <button type="button" className="avatar-button" aria-label={`Profile of ${title}`} onClick={() => openProfile(c.peerId!)}>
            <Avatar user={s.users[c.peerId]} id={c.peerId} name={title} presence={peerPresence ?? 'offline'} />
          </button>
        ) : (
          <Avatar name={title} id={c.id} />
        )}
        <div className="conversation-title">
          <h2>{title}</h2>
          <span className="muted" data-testid="conversation-subtitle">
            {subtitle}
            {c.type === 'direct' && c.peerId && s.users[c.peerId]?.statusText ? ` · ${s.users[c.peerId]!.statusText}` : ''}
            {c.topic ? ` · ${c.topic}` : ''}
          </span>
        </div>
        <div className="head-actions">
          <CallButtons conversation={c} />
          <ConversationTools conversation={c} />
          <NotificationMenu conversationId={c.id} />
          {c.type === 'group' ? (
            <button type="button" className="secondary with-icon" onClick={props.onMembers} aria-label="Members">
              <Users size={16} aria-hidden={true} />
              <span className="members-label">Members</span>
            </button>
          ) : null}
        </div>
      </header>
      <div className="messages-wrap">
      {showJump ? (
        <button type="button" className="jump-unread with-icon" onClick={() => void jumpToUnread()} disabled={jumping} data-testid="jump-unread">
          {jumping ? 'Loading…' : `Jump to first unread (${unreadCount})`}
        </button>
      ) : null}
      {newWhileUp > 0 ? (
        <button type="button" className="new-pill with-icon" onClick={toBottom} data-testid="new-messages-pill">
          <ArrowDown size={16} aria-hidden={true} /> {newWhileUp} new message{newWhileUp === 1 ? '' : 's'}
        </button>
      ) : null}
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
            const continued = m !== firstUnread && !!prev && prev.kind === 'user' && m.kind === 'user' && prev.senderId === m.senderId && !m.replyToId && Date.parse(m.createdAt) - Date.parse(prev.createdAt) < CONTINUE_MS;
            const divider =
              m === firstUnread ? (
                <li key="unread-divider" className="unread-divider" data-testid="unread-divider" role="separator" aria-label="New messages">
                  New messages
                </li>
              ) : null;
            return [
              divider,
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
              />,
            ];
          })}
          {pending.map((p) => (
            <li key={p.clientMsgId} className="message mine pending" data-testid="pending-message">
              <div className="message-gutter" />
              <div className="message-main">
                {p.text ? (
                  <div className="message-text">
                    <RichText text={p.text} users={s.users} mentions={[]} />
                  </div>
                ) : null}
                {p.attachments?.length ? (
                  <p className="muted with-icon">
                    <Paperclip size={14} aria-hidden={true} /> {p.attachments.length} attachment{p.attachments.length === 1 ? '' : 's'}
                  </p>
                ) : null}
                <span className="muted small">{s.connection === 'online' ? 'Sending…' : 'Waiting for the connection…'}</span>
              </div>
            </li>
          ))}
          {failed.map((f) => (
            <li key={f.item.clientMsgId} className="message mine failed" role="alert">
              <div className="message-gutter" />
              <div className="message-main">
                <div className="message-text">{f.item.text}</div>
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
      </div>
      <div className="typing" aria-live="polite" data-testid="typing">
        {typing.length ? `${listNames(typing)} ${typing.length > 1 ? 'are' : 'is'} typing…` : ''}
      </div>
      <Composer ref={composer} conversation={c} title={title} replyTo={replyTo} clearReply={() => setReplyTo(null)} onEditLast={onEditLast} />
    </section>
  );
}
