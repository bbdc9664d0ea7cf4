/** Small display helpers (dates, sizes, system messages). */
import type { Message } from '../../../sdk/index.js';

export function timeOf(iso: string): string {
  const d = new Date(iso);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function fullTimeOf(iso: string): string {
  return new Date(iso).toLocaleString();
}

export function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function initialsOf(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? `${parts[0]![0]}${parts[1]![0]}` : name.slice(0, 2);
  return s.toUpperCase();
}

/** A stable hue for a user's avatar. */
export function hueOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) % 360;
  return h;
}

/** What a system message says, with names (React renders it as text). */
export function systemText(m: Message, name: (id: string | undefined) => string, kind: 'group' | 'direct' = 'group'): string {
  const s = m.system;
  if (!s) return m.text ?? '';
  const actor = name(s.actorId);
  const others = (s.userIds ?? []).filter((u) => u !== s.actorId).map((u) => name(u));
  const list = others.length ? others.join(', ') : 'someone';
  switch (s.action) {
    case 'created':
      return `${actor} created the ${kind === 'group' ? 'group' : 'conversation'}`;
    case 'member.added':
      return others.length ? `${actor} added ${list}` : `${actor} joined`;
    case 'member.removed':
      return `${actor} removed ${list}`;
    case 'member.left':
      return `${actor} left`;
    case 'updated':
      return m.text ? m.text : `${actor} updated the conversation`;
    case 'call.missed':
    case 'call.ended':
      // "missed audio call", "video call, 12 min" (written by the server).
      return m.text ? `${m.text.charAt(0).toUpperCase()}${m.text.slice(1)}` : 'Call';
    case 'pinned':
      return `${actor} pinned a message`;
    case 'unpinned':
      return `${actor} unpinned a message`;
    case 'admin.added':
      return `${actor} made ${list} an admin`;
    case 'admin.removed':
      return `${actor} made ${list} a member`;
    case 'owner.transferred':
      return `${actor} made ${list} the owner`;
    default:
      return m.text ?? '';
  }
}

/** A one-line preview of a message for the conversation list. */
export function previewOf(m: Message | undefined, name: (id: string | undefined) => string, meId: string): string {
  if (!m) return 'No messages yet';
  if (m.kind === 'system') return systemText(m, name);
  if (m.deletedAt) return 'Message deleted';
  const who = m.senderId === meId ? 'You: ' : '';
  if (m.text) return who + m.text.replace(/\s+/g, ' ').slice(0, 80);
  if (m.attachments.length) return `${who}📎 ${m.attachments[0]!.filename}`;
  return who;
}
