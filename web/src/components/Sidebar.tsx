import type { Conversation } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { previewOf, timeOf } from '../lib/format.js';
import { Avatar } from './Avatar.js';
import { UserPicker } from './UserPicker.js';

export interface SidebarProps {
  activeId: string | undefined;
  open: (id: string) => void;
  onProfile: () => void;
  onNewGroup: () => void;
  /** Opens message search (also Ctrl/Cmd+K). */
  onSearch?: () => void;
  onLogout: () => void;
  notifications: { state: string; enable: () => void };
}

/** The signed-in user, people search, and the conversation list (most recent first). */
export function Sidebar(props: SidebarProps) {
  const model = useModel();
  const s = useChat();
  const name = (id: string | undefined) => model.displayName(id);

  return (
    <nav className="sidebar" aria-label="Conversations">
      <header className="me">
        <Avatar user={s.users[s.me.id] ?? s.me} size={36} />
        <div className="me-name">
          <strong>{s.me.displayName || s.me.username}</strong>
          <span className="muted">@{s.me.username}</span>
        </div>
        {props.onSearch ? (
          <button type="button" className="icon-button" onClick={props.onSearch} aria-label="Search messages" title="Search messages (Ctrl+K)">
            🔍
          </button>
        ) : null}
        <button type="button" className="icon-button" onClick={props.onProfile} aria-label="Edit profile" title="Profile">
          ⚙
        </button>
        <button type="button" className="icon-button" onClick={props.onLogout} aria-label="Log out" title="Log out">
          ⎋
        </button>
      </header>
      {props.notifications.state === 'default' ? (
        <button type="button" className="link-button enable-notifications" onClick={props.notifications.enable}>
          🔔 Enable notifications
        </button>
      ) : null}
      <div className="sidebar-actions">
        <UserPicker label="Find people" placeholder="Find people…" onPick={(u) => void model.attempt('Starting the conversation', () => model.openDirect(u.id)).then((c) => c && props.open(c.id))} />
        <button type="button" className="secondary" onClick={props.onNewGroup}>
          New group
        </button>
      </div>
      <ul className="conversation-list">
        {s.conversations.map((c) => (
          <ConversationRow key={c.id} c={c} active={c.id === props.activeId} open={props.open} name={name} meId={s.me.id} presence={c.peerId ? s.presence[c.peerId] : undefined} />
        ))}
        {s.conversations.length === 0 ? <li className="muted empty-list">No conversations yet. Find someone above to start one.</li> : null}
      </ul>
    </nav>
  );
}

function ConversationRow(props: {
  c: Conversation;
  active: boolean;
  open: (id: string) => void;
  name: (id: string | undefined) => string;
  meId: string;
  presence: 'online' | 'offline' | undefined;
}) {
  const model = useModel();
  const s = useChat();
  const { c } = props;
  const title = model.titleOf(c);
  const peer = c.peerId ? s.users[c.peerId] : undefined;
  const unread = c.unreadCount > 0;
  const label = [
    title,
    c.type === 'direct' && props.presence ? props.presence : null,
    unread ? `${c.unreadCount} unread` : null,
    c.unreadMentionCount > 0 ? `${c.unreadMentionCount} mention${c.unreadMentionCount > 1 ? 's' : ''}` : null,
  ]
    .filter(Boolean)
    .join(', ');
  return (
    <li>
      <button type="button" className={`conversation-row${props.active ? ' active' : ''}${unread ? ' unread' : ''}`} onClick={() => props.open(c.id)} aria-current={props.active ? 'page' : undefined} aria-label={label}>
        {c.type === 'direct' ? <Avatar user={peer} id={c.peerId ?? c.id} name={title} presence={props.presence ?? 'offline'} /> : <Avatar name={title} id={c.id} />}
        <span className="row-main">
          <span className="row-top">
            <span className="row-title">{title}</span>
            {c.lastMessage ? <time className="muted row-time">{timeOf(c.lastMessage.createdAt)}</time> : null}
          </span>
          <span className="row-bottom">
            <span className="row-preview muted">{previewOf(c.lastMessage, props.name, props.meId)}</span>
            {c.unreadMentionCount > 0 ? (
              <span className="badge mention" data-testid="mention-badge">
                @{c.unreadMentionCount}
              </span>
            ) : null}
            {unread ? (
              <span className="badge" data-testid="unread-badge">
                {c.unreadCount}
              </span>
            ) : null}
          </span>
        </span>
      </button>
    </li>
  );
}
