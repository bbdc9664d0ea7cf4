import { useEffect, useState } from 'react';
import type { Message, MessageEdit } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { fullTimeOf } from '../lib/format.js';
import { Dialog } from './Dialog.js';

/** Every earlier version of an edited message, oldest first, and the current one. */
export function EditHistoryDialog(props: { message: Message; onClose: () => void }) {
  const model = useModel();
  const m = props.message;
  const [edits, setEdits] = useState<MessageEdit[] | null>(null);
  useEffect(() => {
    void model.attempt('Loading the edit history', () => model.client.rest.messageEdits(m.conversationId, m.id)).then((r) => r && setEdits(r.edits));
  }, [model, m.conversationId, m.id, m.rev]);
  return (
    <Dialog title="Edit history" onClose={props.onClose}>
      {edits === null ? <p className="muted">Loading…</p> : null}
      <ol className="edit-history" aria-label="Versions">
        {(edits ?? []).map((e, i) => (
          <li key={i}>
            <p className="message-text">{e.text ?? '(no text)'}</p>
            <span className="muted small">replaced {fullTimeOf(e.editedAt)}</span>
          </li>
        ))}
        {edits ? (
          <li className="current">
            <p className="message-text">{m.text}</p>
            <span className="muted small">current</span>
          </li>
        ) : null}
      </ol>
    </Dialog>
  );
}
