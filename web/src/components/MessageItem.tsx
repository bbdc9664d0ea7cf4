import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent as ReactPointerEvent } from 'react';
import type { Media, Message, User } from '../../../sdk/index.js';
import { DEFAULT_QUICK, recentEmoji, rememberEmoji } from '../lib/emoji.js';
import { fullTimeOf, sizeOf, systemText, timeOf } from '../lib/format.js';
import { useChat, useModel } from '../lib/hooks.js';
import { useTouchLayout } from '../lib/layout.js';
import { Avatar } from './Avatar.js';
import { confirmAction } from './ConfirmDialog.js';
import { EmojiPicker } from './EmojiPicker.js';
import { Copy, FileIcon, ICON, Pencil, Plus, Reply, SmilePlus, Trash2 } from './Icons.js';
import { Lightbox } from './Lightbox.js';
import { LinkPreviewCard } from './LinkPreviewCard.js';
import { plainText } from '../lib/markdown.js';
import { Markdown } from './Markdown.js';
import { openProfile } from './ProfileCard.js';
import { CollapsedMessage, EditedMark, MessageMenuExtras } from './MessageExtras.js';
import { ThreadLink } from './ThreadPanel.js';
import { useFeatures } from '../lib/features.js';

export const REACTIONS = DEFAULT_QUICK;

/** Message text: Markdown with raw HTML off, @mentions and :shortcodes: (see Markdown.tsx). */
export function RichText(props: { text: string; users: Record<string, User>; mentions: readonly string[] }) {
  return <Markdown text={props.text} users={props.users} mentions={props.mentions} />;
}

function Attachment(props: { media: Media }) {
  const model = useModel();
  const { media } = props;
  const [src, setSrc] = useState(media.thumbnailUrl ?? media.url);
  const [retried, setRetried] = useState(false);
  const [viewing, setViewing] = useState(false);
  const isImage = media.contentType.startsWith('image/');
  if (isImage && src) {
    return (
      <>
        <button type="button" className="attachment image" aria-label={`View ${media.filename}`} onClick={() => setViewing(true)}>
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
        </button>
        {viewing ? <Lightbox media={media} onClose={() => setViewing(false)} /> : null}
      </>
    );
  }
  return (
    <a className="attachment file" href={media.url} target="_blank" rel="noopener noreferrer" download={media.filename}>
      <FileIcon size={16} aria-hidden={true} /> {media.filename} <span className="muted">({sizeOf(media.size)})</span>
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

const LONG_PRESS_MS = 450;

export function MessageItem(props: MessageItemProps) {
  const model = useModel();
  const s = useChat();
  const { m } = props;
  const touch = useTouchLayout();
  const [picker, setPicker] = useState(false);
  const [fullPicker, setFullPicker] = useState(false);
  const [sheet, setSheet] = useState(false);
  const reactButton = useRef<HTMLButtonElement>(null);
  const press = useRef<{ timer: ReturnType<typeof setTimeout>; x: number; y: number; fired: boolean } | null>(null);
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
  const previews = deleted ? [] : (s.previews[m.id] ?? []);
  const canEdit = mine && m.text !== null;
  const canDelete = mine || props.canModerate;
  const actionable = !deleted && !props.editing;

  const react = (emoji: string) => {
    rememberEmoji(emoji);
    void model.toggleReaction(m, emoji);
  };
  const askDelete = async () => {
    const ok = await confirmAction({ title: 'Delete message?', body: 'This deletes the message for everyone in the conversation. It cannot be undone.', confirmLabel: 'Delete', danger: true });
    if (ok) await model.remove(m);
  };

  // Phones: a tap on the message (not on a link or button) or a long-press opens the sheet.
  // Also what is drawn over the page from inside the message (picker, sheet, lightbox).
  const interactive = (t: EventTarget | null) => t instanceof Element && !!t.closest('a, button, input, textarea, img, .edit-box, .emoji-picker, .emoji-backdrop, .sheet-backdrop, .lightbox, dialog');
  const onPointerDown = (e: ReactPointerEvent) => {
    if (!actionable || e.pointerType === 'mouse' || interactive(e.target)) return;
    const state = { x: e.clientX, y: e.clientY, fired: false, timer: setTimeout(() => {
      state.fired = true;
      setSheet(true);
    }, LONG_PRESS_MS) };
    press.current = state;
  };
  const cancelPress = (e?: ReactPointerEvent) => {
    const p = press.current;
    if (!p) return;
    if (e && e.type === 'pointermove' && Math.hypot(e.clientX - p.x, e.clientY - p.y) < 10) return;
    clearTimeout(p.timer);
    if (e?.type !== 'pointerup' || !p.fired) press.current = null;
  };

  const who = (userId: string) => (
    <button type="button" className="name-button sender" onClick={() => openProfile(userId)}>
      {model.displayName(userId)}
    </button>
  );

  return (
    <li
      className={`message${mine ? ' mine' : ''}${props.continued ? ' continued' : ''}${sheet ? ' selected' : ''}`}
      data-seq={m.seq}
      data-message-id={m.id}
      onPointerDown={onPointerDown}
      onPointerMove={cancelPress}
      onPointerUp={cancelPress}
      onPointerCancel={() => cancelPress()}
      onContextMenu={(e) => {
        if (touch && actionable && !interactive(e.target)) {
          e.preventDefault();
          setSheet(true);
        }
      }}
      onClick={(e) => {
        if (press.current?.fired) {
          press.current = null;
          return;
        }
        if (touch && actionable && !interactive(e.target) && !window.getSelection()?.toString()) setSheet(true);
      }}
    >
      <div className="message-gutter">
        {props.continued ? null : (
          <button type="button" className="avatar-button" aria-label={`Profile of ${sender}`} onClick={() => openProfile(m.senderId)}>
            <Avatar user={s.users[m.senderId]} id={m.senderId} name={sender} size={32} />
          </button>
        )}
      </div>
      <div className="message-main">
        {props.continued ? (
          <span className="visually-hidden">{sender}:</span>
        ) : (
          <div className="message-meta">
            <strong>{who(m.senderId)}</strong>
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
                <span className="muted">{props.replyTo.deletedAt ? 'Message deleted' : props.replyTo.text ? plainText(props.replyTo.text).slice(0, 120) : 'Attachment'}</span>
              </>
            ) : (
              <span className="muted">Reply to an earlier message</span>
            )}
          </div>
        ) : null}
        {deleted ? (
          <div className="message-text deleted muted">This message was deleted</div>
        ) : props.editing ? (
          <EditBox m={m} done={() => props.setEditing(null)} />
        ) : (
          <>
            {m.text ? (
              <div className="message-text">
                <RichText text={m.text} users={s.users} mentions={m.mentions} />
                {m.editedAt ? <EditedMark m={m} /> : null}
              </div>
            ) : null}
            {m.attachments.length ? (
              <div className="attachments">
                {m.attachments.map((a) => (
                  <Attachment key={a.id} media={a} />
                ))}
              </div>
            ) : null}
            {previews.map((p) => (
              <LinkPreviewCard key={p.url} preview={p} />
            ))}
          </>
        )}
        {reactions.length && !deleted ? (
          <div className="reactions" aria-label="Reactions">
            {reactions.map(([emoji, users]) => {
              const mineR = users.includes(s.me.id);
              const names = users.map((u) => (u === s.me.id ? 'you' : model.displayName(u))).join(', ');
              return (
                <button
                  type="button"
                  key={emoji}
                  className={`reaction${mineR ? ' mine' : ''}`}
                  aria-pressed={mineR}
                  aria-label={`${emoji} ${users.length}, by ${names}`}
                  title={names}
                  onClick={() => react(emoji)}
                >
                  {emoji} <span>{users.length}</span>
                </button>
              );
            })}
          </div>
        ) : null}
        {deleted ? null : <ThreadLink m={m} replyCount={features.threads[m.id]?.replyCount ?? m.threadReplyCount ?? 0} unread={features.unreadThreads[m.id] ?? 0} />}
        {props.seenBy ? (
          <div className="seen muted" data-testid="seen">
            {props.seenBy}
          </div>
        ) : null}
      </div>
      {actionable && !touch ? (
        <div className="message-actions" role="group" aria-label={`Actions for the message from ${sender}`}>
          <button type="button" className="icon-button" aria-label="Reply" title="Reply" onClick={() => props.onReply(m)}>
            <Reply size={ICON} aria-hidden={true} />
          </button>
          <button type="button" ref={reactButton} className="icon-button" aria-label="Add reaction" title="React" aria-expanded={picker} onClick={() => setPicker(!picker)}>
            <SmilePlus size={ICON} aria-hidden={true} />
          </button>
          {canEdit ? (
            <button type="button" className="icon-button" aria-label="Edit" title="Edit" onClick={() => props.setEditing(m.id)}>
              <Pencil size={ICON} aria-hidden={true} />
            </button>
          ) : null}
          {canDelete ? (
            <button type="button" className="icon-button" aria-label="Delete" title="Delete" onClick={() => void askDelete()}>
              <Trash2 size={ICON} aria-hidden={true} />
            </button>
          ) : null}
          {picker ? (
            <ReactionPicker
              close={() => setPicker(false)}
              pick={react}
              more={() => {
                setPicker(false);
                setFullPicker(true);
              }}
            />
          ) : null}
          <MessageMenuExtras m={m} mine={mine} conversation={s.conversations.find((c) => c.id === m.conversationId)} />
        </div>
      ) : null}
      {fullPicker ? <EmojiPicker anchor={reactButton.current} label="React with any emoji" onPick={react} onClose={() => setFullPicker(false)} /> : null}
      {sheet ? (
        <MessageSheet
          sender={sender}
          close={() => setSheet(false)}
          react={react}
          more={() => {
            setSheet(false);
            setFullPicker(true);
          }}
          reply={() => props.onReply(m)}
          edit={canEdit ? () => props.setEditing(m.id) : undefined}
          remove={canDelete ? () => void askDelete() : undefined}
          copy={m.text ? () => void navigator.clipboard?.writeText(m.text ?? '').then(() => model.notice('Copied.'), () => {}) : undefined}
        />
      ) : null}
    </li>
  );
}

/** Phones: the message's actions as a bottom sheet, with big touch targets. */
function MessageSheet(props: {
  sender: string;
  close: () => void;
  react: (emoji: string) => void;
  more: () => void;
  reply: () => void;
  edit: (() => void) | undefined;
  remove: (() => void) | undefined;
  copy: (() => void) | undefined;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLButtonElement>('.sheet-item')?.focus({ preventScroll: true });
    return () => opener?.focus?.({ preventScroll: true });
  }, []);
  const act = (fn: () => void) => () => {
    props.close();
    fn();
  };
  return (
    <div
      className="sheet-backdrop"
      onClick={(e) => {
        e.stopPropagation();
        if (e.target === e.currentTarget) props.close();
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          props.close();
        }
      }}
    >
      <div className="sheet" role="menu" aria-label={`Actions for the message from ${props.sender}`} ref={ref}>
        <div className="sheet-quick">
          {recentEmoji().map((e) => (
            <button type="button" role="menuitem" key={e} aria-label={`React with ${e}`} onClick={act(() => props.react(e))}>
              {e}
            </button>
          ))}
          <button type="button" role="menuitem" className="more" aria-label="More reactions" onClick={act(props.more)}>
            <Plus size={20} aria-hidden={true} />
          </button>
        </div>
        <button type="button" role="menuitem" className="sheet-item" onClick={act(props.reply)}>
          <Reply size={20} aria-hidden={true} /> Reply
        </button>
        {props.copy ? (
          <button type="button" role="menuitem" className="sheet-item" onClick={act(props.copy)}>
            <Copy size={20} aria-hidden={true} /> Copy text
          </button>
        ) : null}
        {props.edit ? (
          <button type="button" role="menuitem" className="sheet-item" onClick={act(props.edit)}>
            <Pencil size={20} aria-hidden={true} /> Edit
          </button>
        ) : null}
        {props.remove ? (
          <button type="button" role="menuitem" className="sheet-item danger-item" onClick={act(props.remove)}>
            <Trash2 size={20} aria-hidden={true} /> Delete
          </button>
        ) : null}
      </div>
    </div>
  );
}

function ReactionPicker(props: { close: () => void; pick: (emoji: string) => void; more: () => void }) {
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
      {recentEmoji().map((e) => (
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
      <button type="button" role="menuitem" aria-label="More reactions" title="More reactions" onClick={props.more} className="more-reactions">
        <Plus size={18} aria-hidden={true} />
      </button>
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
