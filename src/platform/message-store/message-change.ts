import type { MessageChange, StoredMessage } from './message-store.port.js';

/** Most distinct reactions one message may carry. */
export const MAX_REACTIONS_PER_MESSAGE = 50;

/**
 * Computes a message after a change, shared by every adapter so they agree on the rules.
 * Returns null when the change does nothing (so no rev is spent): a reaction already
 * present or absent, a change to a deleted message.
 */
export function applyChange(m: StoredMessage, change: MessageChange): StoredMessage | null {
  if (m.deletedAt) return null;
  const now = new Date();
  switch (change.kind) {
    case 'edit':
      if (m.text === change.text) return null;
      return { ...m, text: change.text, mentions: change.mentions, editedAt: now };
    case 'delete':
      return { ...m, text: null, attachments: [], mentions: [], reactions: {}, deletedAt: now };
    case 'reaction': {
      const users = m.reactions[change.emoji] ?? [];
      const has = users.includes(change.userId);
      if (has === change.add) return null;
      const reactions = { ...m.reactions };
      if (change.add) {
        if (!reactions[change.emoji] && Object.keys(reactions).length >= MAX_REACTIONS_PER_MESSAGE) return null;
        reactions[change.emoji] = [...users, change.userId];
      } else {
        const rest = users.filter((u) => u !== change.userId);
        if (rest.length) reactions[change.emoji] = rest;
        else delete reactions[change.emoji];
      }
      return { ...m, reactions };
    }
  }
}
