import { useChat, useModel } from '../lib/hooks.js';
import { featuresOf, useFeatures } from '../lib/features.js';
import { Avatar } from './Avatar.js';
import { Dialog } from './Dialog.js';

/** Another user's profile card: name, status, and block/unblock. */
export function UserCard(props: { userId: string; onClose: () => void }) {
  const model = useModel();
  const s = useChat();
  const f = useFeatures(model);
  const u = s.users[props.userId];
  const name = model.displayName(props.userId);
  const blocked = f.blocked.has(props.userId);
  return (
    <Dialog title={name} onClose={props.onClose}>
      <div className="stack user-card">
        <div className="profile-avatar">
          <Avatar user={u} id={props.userId} name={name} size={64} presence={s.presence[props.userId]} />
          <div>
            <strong>{name}</strong>
            {u ? <div className="muted">@{u.username}</div> : null}
            {u?.statusText ? <div>{u.statusText}</div> : null}
          </div>
        </div>
        {props.userId !== s.me.id ? (
          <div className="dialog-actions">
            <button type="button" className={blocked ? 'secondary' : 'danger'} onClick={() => void featuresOf(model).setBlocked(props.userId, !blocked)}>
              {blocked ? 'Unblock' : 'Block'}
            </button>
          </div>
        ) : null}
        {blocked ? <p className="muted small">You blocked {name}: they cannot message you directly, and their messages in groups are collapsed.</p> : null}
      </div>
    </Dialog>
  );
}
