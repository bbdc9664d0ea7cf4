import { useState, type FormEvent } from 'react';
import type { User } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { Dialog } from './Dialog.js';
import { X } from './Icons.js';
import { UserPicker } from './UserPicker.js';

/** Creates a group: a title and the people in it. */
export function NewGroupDialog(props: { onClose: () => void; onCreated: (id: string) => void }) {
  const model = useModel();
  const [title, setTitle] = useState('');
  const [people, setPeople] = useState<User[]>([]);
  const [busy, setBusy] = useState(false);

  async function create(e: FormEvent) {
    e.preventDefault();
    if (!title.trim()) return;
    setBusy(true);
    const conv = await model.attempt('Creating the group', () => model.createGroup(title.trim(), people.map((p) => p.id)));
    setBusy(false);
    if (conv) props.onCreated(conv.id);
  }

  return (
    <Dialog title="New group" onClose={props.onClose}>
      <form onSubmit={create} className="stack">
        <label>
          Group name
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={100} required autoFocus />
        </label>
        <fieldset>
          <legend>People</legend>
          <UserPicker label="Add people" placeholder="Add people…" exclude={people.map((p) => p.id)} onPick={(u) => setPeople((ps) => (ps.some((p) => p.id === u.id) ? ps : [...ps, u]))} />
          <ul className="chips" aria-label="People in the new group">
            {people.map((p) => (
              <li key={p.id} className="chip">
                {p.displayName || p.username}
                <button type="button" className="icon-button" aria-label={`Remove ${p.displayName || p.username}`} onClick={() => setPeople(people.filter((x) => x.id !== p.id))}>
                  <X size={14} aria-hidden={true} />
                </button>
              </li>
            ))}
          </ul>
        </fieldset>
        <div className="dialog-actions">
          <button type="submit" className="primary" disabled={busy || !title.trim()}>
            Create group
          </button>
          <button type="button" className="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
