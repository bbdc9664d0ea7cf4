import { useState, type FormEvent } from 'react';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { Dialog } from './Dialog.js';

/** Display name, status and avatar of the signed-in user. */
export function ProfileDialog(props: { onClose: () => void }) {
  const model = useModel();
  const s = useChat();
  const [displayName, setDisplayName] = useState(s.me.displayName);
  const [statusText, setStatusText] = useState(s.me.statusText ?? '');
  const [avatarMediaId, setAvatarMediaId] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const upload = s.uploads.find((u) => u.conversationId === 'profile');

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    const ok = await model.updateProfile({
      displayName: displayName.trim() || s.me.username,
      statusText: statusText.trim() ? statusText.trim() : null,
      ...(avatarMediaId ? { avatarMediaId } : {}),
    });
    setBusy(false);
    if (upload) model.removeUpload(upload.id);
    if (ok) props.onClose();
  }

  return (
    <Dialog title="Your profile" onClose={props.onClose}>
      <form onSubmit={save} className="stack">
        <div className="profile-avatar">
          {upload?.previewUrl ? <img src={upload.previewUrl} alt="New avatar preview" className="avatar-preview" /> : <Avatar user={s.me} size={64} />}
          {s.mediaEnabled ? (
            <label className="secondary file-button">
              Change picture
              <input
                type="file"
                accept="image/png,image/jpeg,image/webp,image/gif"
                className="visually-hidden"
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  e.target.value = '';
                  if (!f) return;
                  if (upload) model.removeUpload(upload.id);
                  void model.upload('profile', f).then((id) => id && setAvatarMediaId(id));
                }}
              />
            </label>
          ) : null}
          {upload && !upload.mediaId && !upload.error ? <progress max={upload.total || 1} value={upload.loaded} aria-label="Uploading picture" /> : null}
          {upload?.error ? <span className="error">{upload.error}</span> : null}
        </div>
        <label>
          Display name
          <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={64} required />
        </label>
        <label>
          Status
          <input value={statusText} onChange={(e) => setStatusText(e.target.value)} maxLength={140} placeholder="What are you up to?" />
        </label>
        <p className="muted small">
          Signed in as @{s.me.username} ({s.me.email})
        </p>
        <div className="dialog-actions">
          <button type="submit" className="primary" disabled={busy || (!!upload && !upload.mediaId && !upload.error)}>
            Save
          </button>
          <button type="button" className="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
