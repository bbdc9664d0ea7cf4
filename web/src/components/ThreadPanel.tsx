import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Message } from '../../../sdk/index.js';
import { newClientMsgId } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { featuresOf } from '../lib/features.js';
import { timeOf } from '../lib/format.js';
import { RichText } from './MessageItem.js';
import { ICON, X } from './Icons.js';

/** "N replies" under a thread root; opens the thread panel. Unread threads you follow are marked. */
export function ThreadLink(props: { m: Message; replyCount: number; unread: number }) {
  const model = useModel();
  if (props.replyCount <= 0) return null;
  return (
    <button type="button" className={`link-button thread-link${props.unread ? ' unread' : ''}`} onClick={() => featuresOf(model).openThread({ conversationId: props.m.conversationId, rootId: props.m.id })}>
      {props.replyCount} {props.replyCount === 1 ? 'reply' : 'replies'}
      {props.unread ? <span className="thread-unread" aria-label={`${props.unread} unread`}> · {props.unread} new</span> : null}
    </button>
  );
}

/** A thread beside the conversation (the whole screen on a phone): the root, its replies, and a reply box. */
export function ThreadPanel(props: { conversationId: string; rootId: string }) {
  const model = useModel();
  const s = useChat();
  const [root, setRoot] = useState<Message | null>(null);
  const [replies, setReplies] = useState<Message[]>([]);
  const [following, setFollowing] = useState(false);
  const [text, setText] = useState('');
  const list = useRef<HTMLOListElement>(null);
  const { conversationId, rootId } = props;

  useEffect(() => {
    let live = true;
    setRoot(null);
    setReplies([]);
    void model.attempt('Loading the thread', () => model.client.rest.threadMessages(conversationId, rootId, { limit: 100 })).then((r) => {
      if (!live || !r) return;
      setRoot(r.root);
      setReplies(r.messages);
      setFollowing(r.following);
      void model.ensureUsers([r.root.senderId, ...r.messages.map((m) => m.senderId)]);
    });
    // New and changed replies arrive as ordinary message events naming the root.
    const upsert = ({ message }: { message: Message }) => {
      if (message.threadRootId !== rootId) return;
      setReplies((rs) => {
        const i = rs.findIndex((x) => x.id === message.id);
        if (i < 0) return [...rs, message].sort((a, b) => a.seq - b.seq);
        if (rs[i]!.rev >= message.rev) return rs;
        return rs.map((x) => (x.id === message.id ? message : x));
      });
    };
    const offs = [model.client.on('message.new', upsert), model.client.on('message.updated', upsert), model.client.on('message.deleted', (e) => e.message && upsert({ message: e.message }))];
    return () => {
      live = false;
      offs.forEach((off) => off());
    };
  }, [model, conversationId, rootId]);

  // Reading the thread: its replies are read up to the newest one shown.
  const lastSeq = replies[replies.length - 1]?.seq;
  useEffect(() => {
    if (lastSeq === undefined) return;
    void model.client.rest.markThreadRead(conversationId, rootId, lastSeq).then(() => featuresOf(model).loadThreads(conversationId), () => {});
    list.current?.lastElementChild?.scrollIntoView({ block: 'end' });
  }, [model, conversationId, rootId, lastSeq]);

  async function send(e: FormEvent) {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    setText('');
    const sent = await model.attempt('Replying', () => model.client.rest.sendMessage(conversationId, { clientMsgId: newClientMsgId(), text: body, threadRootId: rootId }));
    if (sent) {
      setFollowing(true);
      setReplies((rs) => (rs.some((x) => x.id === sent.id) ? rs : [...rs, sent].sort((a, b) => a.seq - b.seq)));
    } else setText(body);
  }

  const toggleFollow = async () => {
    const next = !following;
    const ok = await model.attempt(next ? 'Following' : 'Unfollowing', () => model.client.rest.followThread(conversationId, rootId, next).then(() => true));
    if (ok) setFollowing(next);
  };

  const item = (m: Message) => (
    <li key={m.id} className="message" data-message-id={m.id}>
      <div className="message-main">
        <div className="message-meta">
          <strong className="sender">{model.displayName(m.senderId)}</strong> <time className="muted">{timeOf(m.createdAt)}</time>
        </div>
        {m.deletedAt ? (
          <p className="message-text deleted muted">This message was deleted</p>
        ) : (
          <p className="message-text">
            <RichText text={m.text ?? ''} users={s.users} mentions={m.mentions} />
          </p>
        )}
      </div>
    </li>
  );

  return (
    <aside className="thread-panel" aria-label="Thread">
      <header className="thread-head">
        <h3>Thread</h3>
        <button type="button" className="secondary small" onClick={() => void toggleFollow()} aria-pressed={following}>
          {following ? 'Following' : 'Follow'}
        </button>
        <button type="button" className="icon-button" aria-label="Close the thread" onClick={() => featuresOf(model).openThread(undefined)}>
          <X size={ICON} aria-hidden={true} />
        </button>
      </header>
      <ol className="message-list thread-messages" ref={list} aria-label="Thread messages">
        {root ? item(root) : <li className="muted">Loading…</li>}
        {replies.map(item)}
      </ol>
      <form className="thread-composer" onSubmit={send}>
        <textarea aria-label="Reply in thread" placeholder="Reply…" value={text} maxLength={4000} rows={2} onChange={(e) => setText(e.target.value)} onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            e.currentTarget.form?.requestSubmit();
          }
        }} />
        <button type="submit" className="primary" disabled={!text.trim()}>
          Reply
        </button>
      </form>
    </aside>
  );
}
