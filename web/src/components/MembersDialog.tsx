import type { Conversation } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { Dialog } from './Dialog.js';
import { UserPicker } from './UserPicker.js';

/** A group's members; owners and admins add and remove people; anyone can leave. */
export function MembersDialog(props: { conversation: Conversation; onClose: () => void; onLeft: () => void }) {
  const model = useModel();
  const s = useChat();
  const c = props.conversation;
  const members = s.members[c.id] ?? [];
  const manager = c.role === 'owner' || c.role === 'admin';

  return (
    <Dialog title={`Members of ${model.titleOf(c)}`} onClose={props.onClose}>
      {manager ? (
        <div className="stack">
          <UserPicker label="Add people to the group" placeholder="Add people…" exclude={members.map((m) => m.userId)} onPick={(u) => void model.addMembers(c.id, [u.id])} />
        </div>
      ) : null}
      <ul className="member-list" aria-label="Members">
        {members.map((m) => {
          const u = s.users[m.userId];
          const name = model.displayName(m.userId);
          const me = m.userId === s.me.id;
          return (
            <li key={m.userId} className="member">
              <Avatar user={u} id={m.userId} name={name} size={32} presence={s.presence[m.userId]} />
              <span className="member-name">
                {name}
                {me ? ' (you)' : ''} {u ? <span className="muted">@{u.username}</span> : null}
              </span>
              {m.role !== 'member' ? <span className="role">{m.role}</span> : null}
              {manager && !me && m.role !== 'owner' ? (
                <button type="button" className="secondary small" aria-label={`Remove ${name}`} onClick={() => void model.removeMember(c.id, m.userId)}>
                  Remove
                </button>
              ) : null}
            </li>
          );
        })}
      </ul>
      <div className="dialog-actions">
        <button
          type="button"
          className="danger"
          onClick={() => {
            if (!window.confirm(`Leave ${model.titleOf(c)}?`)) return;
            void model.removeMember(c.id, s.me.id).then((ok) => ok && props.onLeft());
          }}
        >
          Leave group
        </button>
      </div>
    </Dialog>
  );
}
