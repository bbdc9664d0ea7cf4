import { useState } from 'react';
import { createPortal } from 'react-dom';
import type { Conversation, Message } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { EditHistoryDialog } from './EditHistoryDialog.js';
import { ReportDialog } from './ReportDialog.js';
import { featuresOf } from '../lib/features.js';
import { Flag, ICON, MessageSquare, Pin } from './Icons.js';

/** "(edited)": opens the message's edit history. */
export function EditedMark(props: { m: Message }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      {' '}
      <button type="button" className="link-button muted edited" onClick={() => setOpen(true)} title="Show the edit history">
        (edited)
      </button>
      {open ? <EditHistoryDialog message={props.m} onClose={() => setOpen(false)} /> : null}
    </>
  );
}

/** Message menu entries beside reply/react/edit/delete: Pin (who may pin) and Report (others' messages). */
export function MessageMenuExtras(props: { m: Message; mine: boolean; conversation: Conversation | undefined }) {
  const model = useModel();
  const [reporting, setReporting] = useState(false);
  const c = props.conversation;
  const canPin = !!c && (c.type === 'direct' || c.role === 'owner' || c.role === 'admin');
  return (
    <>
      <button type="button" className="icon-button" aria-label="Open thread" title="Reply in thread" onClick={() => featuresOf(model).openThread({ conversationId: props.m.conversationId, rootId: props.m.id })}>
        <MessageSquare size={ICON} aria-hidden={true} />
      </button>
      {canPin ? (
        <button type="button" className="icon-button" aria-label="Pin" title="Pin" onClick={() => void model.attempt('Pinning', () => model.client.rest.pinMessage(props.m.conversationId, props.m.id))}>
          <Pin size={ICON} aria-hidden={true} />
        </button>
      ) : null}
      {!props.mine ? (
        <button type="button" className="icon-button" aria-label="Report" title="Report" onClick={() => setReporting(true)}>
          <Flag size={ICON} aria-hidden={true} />
        </button>
      ) : null}
      {/* In a portal: the menu it opens from is hidden once the pointer leaves the message. */}
      {reporting ? createPortal(<ReportDialog message={props.m} onClose={() => setReporting(false)} />, document.body) : null}
    </>
  );
}

/** A message from someone you blocked, collapsed until you choose to see it. */
export function CollapsedMessage(props: { m: Message; reveal: () => void }) {
  return (
    <li className="message collapsed" data-seq={props.m.seq} data-message-id={props.m.id}>
      <div className="message-gutter" />
      <div className="message-main">
        <span className="muted">Message from a blocked user</span>{' '}
        <button type="button" className="link-button" onClick={props.reveal}>
          Show
        </button>
      </div>
    </li>
  );
}
