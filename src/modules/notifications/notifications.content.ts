import type { PushMessage } from '../../platform/push/index.js';

/** Longest text preview in a push, in characters (providers cap payloads at 4 KiB). */
export const PUSH_BODY_MAX_CHARS = 180;
/** Pushes expire after a day: a notification older than that is noise. */
export const PUSH_TTL_SECONDS = 86_400;

/** Cuts `text` to `max` characters (whole code points), with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, ' ').trim()];
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

export interface PushContentInput {
  senderName: string;
  conversation: { id: string; type: 'direct' | 'group'; title: string | null };
  message: { id: string; seq: number; text: string | null; attachmentCount: number };
  /** false: no message text leaves the server (privacy). */
  preview: boolean;
  badge: number;
}

/** The visible push for one recipient: title = sender (and group), body = preview, data = where to go. */
export function alertPush(i: PushContentInput): PushMessage {
  const title = i.conversation.type === 'group' && i.conversation.title ? `${i.senderName} in ${i.conversation.title}` : i.senderName;
  let body = 'New message';
  if (i.preview) {
    if (i.message.text && i.message.text.trim()) body = truncate(i.message.text, PUSH_BODY_MAX_CHARS);
    else if (i.message.attachmentCount > 0) body = i.message.attachmentCount === 1 ? 'Sent an attachment' : `Sent ${i.message.attachmentCount} attachments`;
  }
  return {
    kind: 'alert',
    title,
    body,
    data: syncData(i.conversation.id, i.message.id, i.message.seq),
    collapseKey: i.conversation.id,
    badge: i.badge,
    ttlSeconds: PUSH_TTL_SECONDS,
  };
}

/** The silent push that makes an offline mobile app call /v1/sync: no text, just where. */
export function backgroundPush(conversationId: string, messageId: string, seq: number): PushMessage {
  return { kind: 'background', data: syncData(conversationId, messageId, seq), collapseKey: conversationId, ttlSeconds: PUSH_TTL_SECONDS };
}

function syncData(conversationId: string, messageId: string, seq: number): Record<string, string> {
  return { type: 'message', conversationId, messageId, seq: String(seq) };
}
