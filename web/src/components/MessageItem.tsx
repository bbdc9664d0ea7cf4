import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { Media, Message, User } from '../../../sdk/index.js';
import { fullTimeOf, sizeOf, systemText, timeOf } from '../lib/format.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { CollapsedMessage, EditedMark, MessageMenuExtras } from './MessageExtras.js';
import { useFeatures } from '../lib/features.js';

export const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

const TOKEN = /(https?:\/\/[^\s<>"']+|@[a-z0-9_.]+)/gi;

/**
 * Message text as React text nodes: links and @mentions become elements whose content is
 * still plain text. Nothing here is ever parsed as HTML.
 */
export function RichText(props: { text: string; users: Record<string, User>; mentions: readonly string[] }) {
  const mentioned = new Set(props.mentions.map((id) => props.users[id]?.username).filter(Boolean));
  const parts: ReactNode[] = [];
  let last = 0;
  let i = 0;
  for (const m of props.text.matchAll(TOKEN)) {
    const start = m.index;
    if (start > last) parts.push(props.text.slice(last, start));
    const tok = m[0];
    if (tok.startsWith('@')) {
      const name = tok.slice(1).toLowerCase();
      const special = name === 'all' || name === 'here';
      parts.push(
        mentioned.has(name) || special ? (
          <span key={i++} className="mention">
            {tok}
          </span>
        ) : (
          tok
        ),
      );
    } else {
      const url = tok.replace(/[.,;:!?)]+$/, '');
      parts.push(
        <a key={i++} href={url} target="_blank" rel="noopener noreferrer nofollow">
          {url}
        </a>,
      );
      if (url.length < tok.length) parts.push(tok.slice(url.length));
    }
    last = start + tok.length;
  }
  if (last < props.text.length) parts.push(props.text.slice(last));
  return <>{parts}</>;
}

function Attachment(props: { media: Media }) {
  const model = useModel();
  const { media } = props;
  const [src, setSrc] = useState(media.thumbnailUrl ?? media.url);
  const [retried, setRetried] = useState(false);
  const isImage = media.contentType.startsWith('image/');
  if (isImage && src) {
    return (
      <a className="attachment image" href={media.url ?? src} target="_blank" rel="noopener noreferrer">
        <img
          src={src}
          alt={media.filename}
          width={media.width && media.height ? Math.min(320, media.width) : undefined}
          height={media.width && media.height ? Math.round((Math.min(320, media.width) / media.width) * media.height) : undefined}
          loading="lazy"
          onError={() => {
            // Signed URLs expire: ask for a fresh one, once.
            if (retried) return;
            setRetried(true);
            void model.refreshMediaUrl(media.id).then((u) => u && setSrc(u));
          }}
        />
      </a>
    );
  }
  return (
    <a className="attachment file" href={media.url} target="_blank" rel="noopener noreferrer" download={media.filename}>
      📎 {media.filename} <span className="muted">({sizeOf(media.size)})</span>
    </a>
  );
}

export interface MessageItemProps {
  m: Message;
  /** Same sender as the message before, close in time: the name is not repeated. */
  continued: boolean;
  canModerate: boolean;
  replyTo: Message | undefined;
  onReply: (m: Message) => void;
  editing: boolean;
  setEditing: (id: string | null) => void;
  seenBy?: string | undefined;
}

export function MessageItem(props: MessageItemProps) {
  const model = useModel();
  const s = useChat();
  const { m } = props;
  const [picker, setPicker] = useState(false);
  const [revealed, setRevealed] = useState(false);
  const features = useFeatures(model);
  const mine = m.senderId === s.me.id;
  const sender = model.displayName(m.senderId);
  if (m.kind === 'user' && !mine && features.blocked.has(m.senderId) && !revealed) return <CollapsedMessage m={m} reveal={() => setRevealed(true)} />;

  if (m.kind === 'system') {
    return (
      <li className="system-message" data-seq={m.seq}>
        <span>{systemText(m, (id) => model.displayName(id))}</span> <time className="muted">{timeOf(m.createdAt)}</time>
      </li>
    );
  }

  const deleted = !!m.deletedAt;
  const reactions = Object.entries(m.reactions).filter(([, users]) => users.length > 0);
  return (
    <li className={`message${mine ? ' mine' : ''}${props.continued ? ' continued' : ''}`} data-seq={m.seq} data-message-id={m.id}>
      <div className="message-gutter">{props.continued ? null : <Avatar user={s.users[m.senderId]} id={m.senderId} name={sender} size={32} />}</div>
      <div className="message-main">
        {props.continued ? (
          <span className="visually-hidden">{sender}:</span>
        ) : (
          <div className="message-meta">
            <strong className="sender">{sender}</strong>
            <time dateTime={m.createdAt} title={fullTimeOf(m.createdAt)} className="muted">
              {timeOf(m.createdAt)}
            </time>
          </div>
        )}
        {m.replyToId ? (
          <div className="reply-quote" aria-label="In reply to">
            {props.replyTo ? (
              <>
                <strong>{model.displayName(props.replyTo.senderId)}</strong>{' '}
                <span className="muted">{props.replyTo.deletedAt ? 'Message deleted' : (props.replyTo.text ?? '📎 attachment').slice(0, 120)}</span>
              </>
            ) : (
              <span className="muted">Reply to an earlier message</span>
            )}
          </div>
        ) : null}
        {deleted ? (
          <p className="message-text deleted muted">This message was deleted</p>
        ) : props.editing ? (
          <EditBox m={m} done={() => props.setEditing(null)} />
        ) : (
          <>
            {m.text ? (
              <p className="message-text">
                <RichText text={m.text} users={s.users} mentions={m.mentions} />
                {m.editedAt ? <EditedMark m={m} /> : null}
              </p>
            ) : null}
            {m.attachments.length ? (
              <div className="attachments">
                {m.attachments.map((a) => (
                  <Attachment key={a.id} media={a} />
                ))}
              </div>
            ) : null}
          </>
        )}
        {reactions.length && !deleted ? (
          <div className="reactions" aria-label="Reactions">
            {reactions.map(([emoji, users]) => {
              const mineR = users.includes(s.me.id);
              const who = users.map((u) => (u === s.me.id ? 'you' : model.displayName(u))).join(', ');
              return (
                <button
                  type="button"
                  key={emoji}
                  className={`reaction${mineR ? ' mine' : ''}`}
                  aria-pressed={mineR}
                  aria-label={`${emoji} ${users.length}, by ${who}`}
                  title={who}
                  onClick={() => void model.toggleReaction(m, emoji)}
                >
                  {emoji} <span>{users.length}</span>
                </button>
              );
            })}
          </div>
        ) : null}
        {props.seenBy ? (
          <div className="seen muted" data-testid="seen">
            {props.seenBy}
          </div>
        ) : null}
      </div>
      {deleted || props.editing ? null : (
        <div className="message-actions" role="group" aria-label={`Actions for the message from ${sender}`}>
          <button type="button" className="icon-button" aria-label="Reply" title="Reply" onClick={() => props.onReply(m)}>
            ↩
          </button>
          <button type="button" className="icon-button" aria-label="Add reaction" title="React" aria-expanded={picker} onClick={() => setPicker(!picker)}>
            ☺
          </button>
          {mine && m.text !== null ? (
            <button type="button" className="icon-button" aria-label="Edit" title="Edit" onClick={() => props.setEditing(m.id)}>
              ✎
            </button>
          ) : null}
          {mine || props.canModerate ? (
            <button
              type="button"
              className="icon-button"
              aria-label="Delete"
              title="Delete"
              onClick={() => {
                if (window.confirm('Delete this message for everyone?')) void model.remove(m);
              }}
            >
              🗑
            </button>
          ) : null}
          <MessageMenuExtras m={m} mine={mine} conversation={s.conversations.find((c) => c.id === m.conversationId)} />
          {picker ? <ReactionPicker close={() => setPicker(false)} pick={(e) => void model.toggleReaction(m, e)} /> : null}
        </div>
      )}
    </li>
  );
}

function ReactionPicker(props: { close: () => void; pick: (emoji: string) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector('button')?.focus();
  }, []);
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      props.close();
    }
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      const buttons = [...(ref.current?.querySelectorAll('button') ?? [])];
      const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
      buttons[(i + (e.key === 'ArrowRight' ? 1 : buttons.length - 1)) % buttons.length]?.focus();
    }
  };
  return (
    <div className="reaction-picker" role="menu" aria-label="Reactions" ref={ref} onKeyDown={onKey}>
      {REACTIONS.map((e) => (
        <button
          type="button"
          role="menuitem"
          key={e}
          aria-label={`React with ${e}`}
          onClick={() => {
            props.pick(e);
            props.close();
          }}
        >
          {e}
        </button>
      ))}
    </div>
  );
}

function EditBox(props: { m: Message; done: () => void }) {
  const model = useModel();
  const [text, setText] = useState(props.m.text ?? '');
  const save = async () => {
    const t = text.trim();
    if (t && t !== props.m.text) await model.edit(props.m, t);
    props.done();
  };
  return (
    <div className="edit-box">
      <textarea
        aria-label="Edit message"
        value={text}
        autoFocus
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void save();
          } else if (e.key === 'Escape') {
            e.preventDefault();
            props.done();
          }
        }}
        maxLength={4000}
      />
      <div className="edit-actions">
        <button type="button" className="primary small" onClick={() => void save()}>
          Save
        </button>
        <button type="button" className="secondary small" onClick={props.done}>
          Cancel
        </button>
        <span className="muted">Enter to save, Esc to cancel</span>
      </div>
    </div>
  );
}
