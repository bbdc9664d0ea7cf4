import { useEffect, useState, type RefObject } from 'react';
import type { Conversation, Message } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { featuresOf, useFeatures } from '../lib/features.js';
import { GroupSettingsDialog } from './GroupSettingsDialog.js';
import { PinsDialog } from './PinsDialog.js';
import { UserCard } from './UserCard.js';

/** Header buttons of a conversation for pins, group settings and the peer's profile card, with their dialogs. */
export function ConversationTools(props: { conversation: Conversation }) {
  const c = props.conversation;
  const [open, setOpen] = useState<'pins' | 'settings' | 'profile' | null>(null);
  useEffect(() => setOpen(null), [c.id]);
  const close = () => setOpen(null);
  return (
    <>
      <button type="button" className="secondary" onClick={() => setOpen('pins')} title="Pinned messages">
        Pins
      </button>
      {c.type === 'group' ? (
        <button type="button" className="secondary" onClick={() => setOpen('settings')} title="Group settings">
          Settings
        </button>
      ) : c.peerId ? (
        <button type="button" className="secondary" onClick={() => setOpen('profile')} title="Profile">
          Profile
        </button>
      ) : null}
      {open === 'pins' ? <PinsDialog conversation={c} onClose={close} /> : null}
      {open === 'settings' ? <GroupSettingsDialog conversation={c} onClose={close} /> : null}
      {open === 'profile' && c.peerId ? <UserCard userId={c.peerId} onClose={close} /> : null}
    </>
  );
}

/** How many older pages the view loads to reach a searched-for message before giving up. */
const MAX_PAGES = 40;

/**
 * Opens a conversation at a message (from search or pins): loads older pages until it is
 * there, scrolls it into view and highlights it for a moment.
 */
export function useFocusedMessage(conversationId: string, messages: readonly Message[], hasMore: boolean, loading: boolean, scroller: RefObject<HTMLDivElement | null>): void {
  const model = useModel();
  const f = useFeatures(model);
  const [pages, setPages] = useState(0);
  const focus = f.focus?.conversationId === conversationId ? f.focus : undefined;
  useEffect(() => {
    if (!focus) return;
    const present = messages.some((m) => m.id === focus.messageId);
    if (!present) {
      const oldest = messages[0]?.seq;
      if (hasMore && !loading && pages < MAX_PAGES && (oldest === undefined || oldest > focus.seq)) {
        setPages(pages + 1);
        void model.loadOlder(conversationId);
      }
      return;
    }
    const el = scroller.current?.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(focus.messageId)}"]`);
    if (!el) return;
    el.scrollIntoView({ block: 'center' });
    el.classList.add('highlighted');
    const t = setTimeout(() => el.classList.remove('highlighted'), 4000);
    featuresOf(model).focusMessage(undefined);
    setPages(0);
    return () => clearTimeout(t);
  }, [focus, messages, hasMore, loading, pages, model, conversationId, scroller]);
}
