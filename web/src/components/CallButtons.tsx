import { useSyncExternalStore } from 'react';
import type { Conversation } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { callsOf } from '../lib/calls.js';

/** The audio and video call buttons of a conversation's header. */
export function CallButtons(props: { conversation: Conversation }) {
  const model = useModel();
  const calls = callsOf(model);
  const state = useSyncExternalStore(calls.subscribe, calls.getState);
  const busy = !!state.current;
  return (
    <div className="call-buttons">
      <button type="button" className="icon-button" aria-label="Start audio call" title="Audio call" disabled={busy} onClick={() => void calls.start(props.conversation.id, 'audio')}>
        📞
      </button>
      <button type="button" className="icon-button" aria-label="Start video call" title="Video call" disabled={busy} onClick={() => void calls.start(props.conversation.id, 'video')}>
        🎥
      </button>
    </div>
  );
}
