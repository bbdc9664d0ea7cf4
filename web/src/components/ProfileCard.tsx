import { useEffect, useState } from 'react';
import { featuresOf, useFeatures } from '../lib/features.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { Dialog } from './Dialog.js';
import { Ban, ICON, MessageSquare } from './Icons.js';

let show: ((userId: string) => void) | undefined;

/** Opens the profile card of a user (from a name or avatar anywhere). */
export function openProfile(userId: string): void {
  show?.(userId);
}

/**
 * Mounted once: a user's card (avatar, name, @username, status, presence) with "Message"
 * (opens the direct conversation) and "Block" (shown only when the server has blocking).
 */
export function ProfileCardHost(props: { onOpenConversation: (id: string) => void }) {
  const model = useModel();
  const s = useChat();
  const [userId, setUserId] = useState<string | null>(null);
  const f = useFeatures(model);
  useEffect(() => {
    show = (id) => {
      setUserId(id);
      void model.ensureUsers([id]);
    };
    return () => {
      show = undefined;
    };
  }, [model]);
  if (!userId) return null;
  const u = s.users[userId];
  const me = userId === s.me.id;
  const presence = me ? (s.connection === 'online' ? 'online' : undefined) : s.presence[userId];
  const name = model.displayName(userId);
  return (
    <Dialog title={`Profile of ${name}`} hideTitle onClose={() => setUserId(null)}>
      <div className="profile-card" data-testid="profile-card">
        <Avatar user={u} id={userId} name={name} size={88} />
        <h2>{name}</h2>
        {u ? <span className="muted">@{u.username}</span> : null}
        {presence ? <span className={`presence ${presence}`}>{presence === 'online' ? 'Online' : 'Offline'}</span> : null}
        {u?.statusText ? <p className="status">“{u.statusText}”</p> : <p className="muted small">No status set</p>}
        {me ? null : (
          <div className="dialog-actions">
            <button
              type="button"
              className="primary with-icon"
              onClick={() =>
                void model.attempt('Starting the conversation', () => model.openDirect(userId)).then((c) => {
                  if (!c) return;
                  setUserId(null);
                  props.onOpenConversation(c.id);
                })
              }
            >
              <MessageSquare size={ICON} aria-hidden={true} /> Message
            </button>
            {/* Blocking is the blocks module's (lib/features.ts); shown when the server has it. */}
            {s.features.blocking ? (
              <button type="button" className={f.blocked.has(userId) ? 'secondary with-icon' : 'danger with-icon'} onClick={() => void featuresOf(model).setBlocked(userId, !f.blocked.has(userId))}>
                <Ban size={ICON} aria-hidden={true} /> {f.blocked.has(userId) ? 'Unblock' : 'Block'}
              </button>
            ) : null}
          </div>
        )}
      </div>
    </Dialog>
  );
}
