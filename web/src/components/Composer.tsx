import { forwardRef, useId, useImperativeHandle, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { Conversation, Message, User } from '../../../sdk/index.js';
import { sizeOf } from '../lib/format.js';
import { plainText } from '../lib/markdown.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { EmojiPicker } from './EmojiPicker.js';
import { ICON, Paperclip, Smile, X } from './Icons.js';

export interface ComposerHandle {
  focus(opts?: FocusOptions): void;
}

interface Suggestion {
  key: string;
  username: string;
  label: string;
  user?: User;
}

/** The text being typed ends with `@partial`: what to complete, and where it starts. */
function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const m = /(^|\s)@([a-z0-9_.]{0,32})$/i.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2]!.length - 1, query: m[2]!.toLowerCase() };
}

/**
 * The message box: Enter sends, Shift+Enter is a new line, `@` completes members' names,
 * ArrowUp in an empty box edits your last message, attachments upload with progress.
 */
export const Composer = forwardRef<ComposerHandle, {
  conversation: Conversation;
  title: string;
  replyTo: Message | null;
  clearReply: () => void;
  onEditLast: () => void;
}>(function Composer(props, ref) {
  const model = useModel();
  const s = useChat();
  const { conversation: c } = props;
  const [text, setText] = useState('');
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const emojiButton = useRef<HTMLButtonElement>(null);
  const [emojiOpen, setEmojiOpen] = useState(false);
  const listId = useId();
  useImperativeHandle(ref, () => ({ focus: (opts?: FocusOptions) => area.current?.focus(opts) }), []);

  const uploads = s.uploads.filter((u) => u.conversationId === c.id);
  const uploading = uploads.some((u) => !u.mediaId && !u.error);

  const mq = mentionQuery(text, caret);
  const suggestions: Suggestion[] = useMemo(() => {
    if (!mq || dismissed === mq.start) return [];
    const members = s.members[c.id] ?? [];
    const out: Suggestion[] = [];
    for (const m of members) {
      if (m.userId === s.me.id) continue;
      const u = s.users[m.userId];
      if (!u) continue;
      const dn = (u.displayName || '').toLowerCase();
      if (u.username.startsWith(mq.query) || dn.startsWith(mq.query) || dn.split(/\s+/).some((w) => w.startsWith(mq.query))) {
        out.push({ key: u.id, username: u.username, label: u.displayName || u.username, user: u });
      }
    }
    if (c.type === 'group') {
      for (const special of ['all', 'here']) {
        if (special.startsWith(mq.query)) out.push({ key: special, username: special, label: special === 'all' ? 'Everyone in the group' : 'Everyone online' });
      }
    }
    return out.slice(0, 8);
  }, [mq, dismissed, s.members, s.users, s.me.id, c.id, c.type]);
  const open = suggestions.length > 0;
  const activeIndex = Math.min(active, suggestions.length - 1);

  function pick(sug: Suggestion) {
    if (!mq) return;
    const before = text.slice(0, mq.start);
    const after = text.slice(caret);
    const insert = `@${sug.username} `;
    const next = before + insert + after;
    setText(next);
    const pos = before.length + insert.length;
    setCaret(pos);
    requestAnimationFrame(() => {
      area.current?.setSelectionRange(pos, pos);
      area.current?.focus();
    });
  }

  /** Puts an emoji where the caret is. */
  function insertEmoji(emoji: string) {
    const el = area.current;
    const at = el ? el.selectionStart : text.length;
    const end = el ? el.selectionEnd : text.length;
    const next = text.slice(0, at) + emoji + text.slice(end);
    setText(next);
    const pos = at + emoji.length;
    setCaret(pos);
    requestAnimationFrame(() => {
      area.current?.focus();
      area.current?.setSelectionRange(pos, pos);
    });
  }

  async function send() {
    if (uploading) return;
    const attachments = uploads.filter((u) => u.mediaId).map((u) => u.mediaId!);
    if (!text.trim() && attachments.length === 0) return;
    const body = text;
    setText('');
    setCaret(0);
    props.clearReply();
    for (const u of uploads) model.removeUpload(u.id);
    try {
      await model.send(c.id, body, { ...(props.replyTo ? { replyToId: props.replyTo.id } : {}), attachments });
    } catch (err) {
      setText(body);
      model.notice(`Could not queue the message: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.nativeEvent.isComposing) return;
    if (open) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((activeIndex + (e.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        const sug = suggestions[activeIndex];
        if (sug) pick(sug);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setDismissed(mq?.start ?? null);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void send();
    } else if (e.key === 'Escape' && props.replyTo) {
      e.preventDefault();
      props.clearReply();
    } else if (e.key === 'ArrowUp' && text === '') {
      e.preventDefault();
      props.onEditLast();
    }
  }

  return (
    <div className="composer">
      {props.replyTo ? (
        <div className="reply-bar" role="status">
          <span>
            Replying to <strong>{model.displayName(props.replyTo.senderId)}</strong>: <span className="muted">{props.replyTo.text ? plainText(props.replyTo.text).slice(0, 80) : 'Attachment'}</span>
          </span>
          <button type="button" className="icon-button" aria-label="Cancel reply" onClick={props.clearReply}>
            <X size={ICON} aria-hidden={true} />
          </button>
        </div>
      ) : null}
      {uploads.length ? (
        <ul className="uploads" aria-label="Attachments">
          {uploads.map((u) => (
            <li key={u.id} className="upload">
              {u.previewUrl ? <img src={u.previewUrl} alt="" className="upload-preview" /> : <Paperclip size={ICON} aria-hidden={true} />}
              <span className="upload-name">
                {u.filename} <span className="muted">{sizeOf(u.total)}</span>
              </span>
              {u.error ? (
                <span className="error" role="alert">{u.error}</span>
              ) : u.mediaId ? (
                <span className="muted">Ready</span>
              ) : (
                <progress max={u.total || 1} value={u.loaded} aria-label={`Uploading ${u.filename}`} />
              )}
              <button type="button" className="icon-button" aria-label={`Remove ${u.filename}`} onClick={() => model.removeUpload(u.id)}>
                <X size={ICON} aria-hidden={true} />
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {open ? (
        <ul id={listId} className="mention-list" role="listbox" aria-label="Mention someone">
          {suggestions.map((sug, i) => (
            <li
              key={sug.key}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === activeIndex}
              className={i === activeIndex ? 'active' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(sug);
              }}
            >
              {sug.user ? <Avatar user={sug.user} size={22} /> : null}
              <span>{sug.label}</span> <span className="muted">@{sug.username}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="composer-row">
        {s.mediaEnabled ? (
          <>
            <button type="button" className="icon-button attach" aria-label="Attach a file" title="Attach a file" onClick={() => fileInput.current?.click()}>
              <Paperclip size={20} aria-hidden={true} />
            </button>
            <input
              ref={fileInput}
              type="file"
              multiple
              hidden
              aria-label="Choose files to attach"
              data-testid="attach-input"
              onChange={(e) => {
                const files = [...(e.target.files ?? [])];
                e.target.value = '';
                for (const f of files) void model.upload(c.id, f);
                area.current?.focus();
              }}
            />
          </>
        ) : null}
        <textarea
          ref={area}
          className="composer-input"
          rows={1}
          value={text}
          maxLength={4000}
          placeholder={`Message ${props.title}`}
          aria-label={`Message ${props.title}`}
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={open}
          aria-controls={open ? listId : undefined}
          aria-activedescendant={open ? `${listId}-${activeIndex}` : undefined}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setActive(0);
            if (e.target.value.trim()) model.typing(c.id);
          }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
        />
        <button type="button" ref={emojiButton} className="icon-button attach" aria-label="Insert emoji" title="Emoji" aria-expanded={emojiOpen} onClick={() => setEmojiOpen(!emojiOpen)}>
          <Smile size={20} aria-hidden={true} />
        </button>
        {emojiOpen ? <EmojiPicker anchor={emojiButton.current} onPick={insertEmoji} onClose={() => setEmojiOpen(false)} /> : null}
        <button type="button" className="primary send" onClick={() => void send()} disabled={uploading} aria-label="Send">
          Send
        </button>
      </div>
    </div>
  );
});
