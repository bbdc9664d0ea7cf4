import { useState, type FormEvent } from 'react';
import type { Message } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { Dialog } from './Dialog.js';

/** Reports a message to the deployment's administrators. */
export function ReportDialog(props: { message: Message; onClose: () => void }) {
  const model = useModel();
  const [reason, setReason] = useState('');
  const [done, setDone] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    const r = await model.attempt('Reporting', () => model.client.rest.reportMessage(props.message.conversationId, props.message.id, reason.trim()));
    if (r) setDone(true);
  }
  return (
    <Dialog title="Report message" onClose={props.onClose}>
      {done ? (
        <div className="stack">
          <p role="status">Thanks. The administrators will review this message.</p>
          <div className="dialog-actions">
            <button type="button" className="primary" onClick={props.onClose}>
              Close
            </button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <blockquote className="muted">{(props.message.text ?? '').slice(0, 300)}</blockquote>
          <label>
            Why are you reporting it?
            <textarea value={reason} onChange={(e) => setReason(e.target.value)} maxLength={1000} required rows={3} />
          </label>
          <div className="dialog-actions">
            <button type="submit" className="danger" disabled={!reason.trim()}>
              Report
            </button>
            <button type="button" className="secondary" onClick={props.onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
