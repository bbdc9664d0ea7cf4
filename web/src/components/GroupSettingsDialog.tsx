import { useEffect, useState, type FormEvent } from 'react';
import type { Conversation, Role } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { Avatar } from './Avatar.js';
import { Dialog } from './Dialog.js';

/** Group settings: name, topic and picture (owner/admin), and member roles (owner). */
export function GroupSettingsDialog(props: { conversation: Conversation; onClose: () => void }) {
  const model = useModel();
  const s = useChat();
  const c = props.conversation;
  const [title, setTitle] = useState(c.title ?? '');
  const [topic, setTopic] = useState(c.topic ?? '');
  const [avatarMediaId, setAvatarMediaId] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const manager = c.role === 'owner' || c.role === 'admin';
  const owner = c.role === 'owner';
  const members = s.members[c.id] ?? [];
  const uploadKey = `group-avatar:${c.id}`;
  const upload = s.uploads.find((u) => u.conversationId === uploadKey);

  useEffect(() => void model.loadMembers(c.id), [model, c.id]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    const patch: { title?: string; topic?: string | null; avatarMediaId?: string } = {};
    if (title.trim() && title.trim() !== c.title) patch.title = title.trim();
    if (topic.trim() !== (c.topic ?? '')) patch.topic = topic.trim() ? topic.trim() : null;
    if (avatarMediaId) patch.avatarMediaId = avatarMediaId;
    const ok = Object.keys(patch).length === 0 || (await model.attempt('Saving the group', () => model.client.rest.updateConversation(c.id, patch)));
    setBusy(false);
    if (upload) model.removeUpload(upload.id);
    if (ok) props.onClose();
  }

  async function setRole(userId: string, role: Role) {
    if (role === 'owner' && !window.confirm(`Make ${model.displayName(userId)} the owner? You will become an admin.`)) return;
    await model.attempt('Changing the role', () => model.client.rest.setMemberRole(c.id, userId, role));
    await model.loadMembers(c.id);
  }

  return (
    <Dialog title="Group settings" onClose={props.onClose}>
      <form onSubmit={save} className="stack">
        <div className="profile-avatar">
          {upload?.previewUrl ? <img src={upload.previewUrl} alt="New group picture preview" className="avatar-preview" /> : <Avatar name={model.titleOf(c)} id={c.id} size={64} />}
          {manager && s.mediaEnabled ? (
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
                  void model.upload(uploadKey, f).then((id) => id && setAvatarMediaId(id));
                }}
              />
            </label>
          ) : null}
        </div>
        <label>
          Name
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={100} required disabled={!manager} />
        </label>
        <label>
          Topic
          <input value={topic} onChange={(e) => setTopic(e.target.value)} maxLength={500} disabled={!manager} placeholder="What is this group about?" />
        </label>
        {manager ? (
          <div className="dialog-actions">
            <button type="submit" className="primary" disabled={busy || (!!upload && !upload.mediaId && !upload.error)}>
              Save
            </button>
          </div>
        ) : null}
      </form>
      <h3>Roles</h3>
      <ul className="member-list" aria-label="Member roles">
        {members.map((m) => {
          const name = model.displayName(m.userId);
          const me = m.userId === s.me.id;
          return (
            <li key={m.userId} className="member">
              <span className="member-name">
                {name}
                {me ? ' (you)' : ''}
              </span>
              {owner && !me ? (
                <select aria-label={`Role of ${name}`} value={m.role} onChange={(e) => void setRole(m.userId, e.target.value as Role)}>
                  <option value="member">member</option>
                  <option value="admin">admin</option>
                  <option value="owner">owner</option>
                </select>
              ) : (
                <span className="role">{m.role}</span>
              )}
            </li>
          );
        })}
      </ul>
    </Dialog>
  );
}
