import { useEffect, useState } from 'react';
import type { Conversation, Pin } from '../../../sdk/index.js';
import { useChat, useModel } from '../lib/hooks.js';
import { featuresOf } from '../lib/features.js';
import { timeOf } from '../lib/format.js';
import { Dialog } from './Dialog.js';

/** The conversation's pinned messages; owners/admins (anyone in a direct conversation) unpin. */
export function PinsDialog(props: { conversation: Conversation; onClose: () => void }) {
  const model = useModel();
  const s = useChat();
  const c = props.conversation;
  const [pins, setPins] = useState<Pin[] | null>(null);
  const canPin = c.type === 'direct' || c.role === 'owner' || c.role === 'admin';
  // Reloaded whenever the conversation's messages change (a pin or unpin is a system message).
  const last = s.messages[c.id]?.length ?? 0;

  useEffect(() => {
    void model.attempt('Loading pins', () => model.client.rest.listPins(c.id)).then((r) => r && setPins(r.pins));
  }, [model, c.id, last]);

  return (
    <Dialog title="Pinned messages" onClose={props.onClose}>
      {pins === null ? <p className="muted">Loading…</p> : pins.length === 0 ? <p className="muted">Nothing is pinned yet.</p> : null}
      <ul className="pin-list" aria-label="Pinned messages">
        {(pins ?? []).map((p) => (
          <li key={p.message.id} className="pin">
            <button
              type="button"
              className="search-hit"
              onClick={() => {
                featuresOf(model).focusMessage({ conversationId: c.id, messageId: p.message.id, seq: p.message.seq });
                props.onClose();
              }}
            >
              <strong>{model.displayName(p.message.senderId)}</strong> <time className="muted small">{timeOf(p.message.createdAt)}</time>
              <span className="search-snippet">{p.message.text ?? '📎 attachment'}</span>
            </button>
            {canPin ? (
              <button
                type="button"
                className="secondary small"
                aria-label="Unpin"
                onClick={() => void model.attempt('Unpinning', () => model.client.rest.unpinMessage(c.id, p.message.id)).then(() => setPins((pins ?? []).filter((x) => x.message.id !== p.message.id)))}
              >
                Unpin
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
