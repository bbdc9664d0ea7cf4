import { useEffect, useState, type RefObject } from 'react';
import type { Conversation, Message } from '../../../sdk/index.js';
import { useModel } from '../lib/hooks.js';
import { featuresOf, useFeatures } from '../lib/features.js';
import { GroupSettingsDialog } from './GroupSettingsDialog.js';
import { PinsDialog } from './PinsDialog.js';
import { UserCard } from './UserCard.js';
import { Pin, Settings } from './Icons.js';

/** Header buttons of a conversation for pins, group settings and the peer's profile card, with their dialogs. */
export function ConversationTools(props: { conversation: Conversation }) {
  const c = props.conversation;
  const [open, setOpen] = useState<'pins' | 'settings' | 'profile' | null>(null);
  useEffect(() => setOpen(null), [c.id]);
  const close = () => setOpen(null);
  return (
    <>
      {/* Icon and label; under 480 px only the icon (aria-label keeps the name), so the header fits a phone. */}
      <button type="button" className="secondary with-icon" onClick={() => setOpen('pins')} title="Pinned messages" aria-label="Pins">
        <Pin size={16} aria-hidden={true} />
        <span className="head-label">Pins</span>
      </button>
      {c.type === 'group' ? (
        <button type="button" className="secondary with-icon" onClick={() => setOpen('settings')} title="Group settings" aria-label="Settings">
          <Settings size={16} aria-hidden={true} />
          <span className="head-label">Settings</span>
        </button>
      ) : c.peerId ? (
        // On a phone the peer's avatar in the header opens the same card.
        <button type="button" className="secondary with-icon head-wide-only" onClick={() => setOpen('profile')} title="Profile" aria-label="Profile">
          <span className="head-label">Profile</span>
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
