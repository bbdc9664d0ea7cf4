/**
 * The public data shapes and the one map of WebSocket events, shared by the server (which
 * produces them) and the SDK (which consumes them). See docs/websocket.md.
 */
import type { Static } from 'typebox';
import type { CLIENT_FRAME_SCHEMAS } from '../src/gateway/ws/frames.schemas.js';

export interface User {
  id: string;
  username: string;
  displayName: string;
  avatarMediaId?: string;
  avatarUrl?: string;
  statusText?: string;
  createdAt: string;
}

export interface Me extends User {
  email: string;
}

export interface Media {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  size: number;
  width?: number;
  height?: number;
  url?: string;
  thumbnailUrl?: string;
  createdAt: string;
}

export interface Message {
  id: string;
  conversationId: string;
  /** Per-conversation, strictly increasing from 1, no gaps. */
  seq: number;
  /** Bumped on every change (send, edit, delete, reaction): the newest rev wins. */
  rev: number;
  senderId: string;
  clientMsgId: string;
  /** `system` messages record membership changes; their `text` is a description. */
  kind: 'user' | 'system';
  text: string | null;
  attachments: Media[];
  replyToId?: string;
  mentions: string[];
  reactions: Record<string, string[]>;
  /** For system messages: what happened. */
  system?: { action: 'created' | 'member.added' | 'member.removed' | 'member.left' | 'updated'; userIds?: string[]; actorId: string };
  createdAt: string;
  editedAt?: string;
  deletedAt?: string;
}

export type Role = 'owner' | 'admin' | 'member';

export interface Conversation {
  id: string;
  type: 'direct' | 'group';
  title?: string;
  topic?: string;
  avatarMediaId?: string;
  /** For a direct conversation: the other user. */
  peerId?: string;
  memberCount: number;
  lastSeq: number;
  lastMessage?: Message;
  unreadCount: number;
  unreadMentionCount: number;
  role: Role;
  lastReadSeq: number;
  createdAt: string;
  updatedAt: string;
}

export interface Member {
  userId: string;
  role: Role;
  joinedAt: string;
  lastReadSeq: number;
}

export interface PresenceEvent {
  userId: string;
  status: 'online' | 'offline';
  lastSeenAt?: string;
}

/** Server → client frames, by type. */
export interface ServerEventMap {
  ready: { user: Me; sessionId: string; cursor: string; serverTime: string };
  ack: { id?: string; message?: Message; lastReadSeq?: number; unreadCount?: number };
  error: { id?: string; code: string; message: string; retryAfter?: number };
  pong: { id?: string; cursor?: string };
  /** `hasMore`: the replay stopped at its per-request bound; resume again from `cursor`. */
  resumed: { id?: string; cursor: string; hasMore?: boolean };
  /** The server may have dropped events (bus outage): resume from your cursor. */
  'sync.required': Record<string, never>;
  /** `senderReadSeq`: the sender's read position after sending (user messages; one frame carries both). */
  'message.new': { message: Message; senderReadSeq?: number };
  'message.updated': { message: Message };
  'message.deleted': { conversationId: string; messageId: string; seq: number; message?: Message };
  'reaction.updated': { message: Message };
  typing: { conversationId: string; userId: string };
  presence: PresenceEvent;
  read: { conversationId: string; userId: string; seq: number };
  'conversation.updated': { conversation: Conversation };
  'member.added': { conversationId: string; userId: string; role?: Role };
  'member.removed': { conversationId: string; userId: string };
  'call.ringing': { call: unknown };
  'call.updated': { call: unknown };
  'call.ended': { call: unknown };
  'call.signal': { callId: string; from: string; data: unknown };
}

export type ServerEventType = keyof ServerEventMap;
export type ServerEvent = { [K in ServerEventType]: { type: K } & ServerEventMap[K] }[ServerEventType];
/** Events that `/v1/sync` and `resume` replay. */
export type SyncEvent = Extract<ServerEvent, { type: 'message.new' | 'message.updated' | 'message.deleted' | 'reaction.updated' | 'read' | 'member.added' | 'member.removed' | 'conversation.updated' }>;

/**
 * Client → server frames, by type: derived from the TypeBox schemas the gateway validates
 * with (src/gateway/ws/frames.schemas.ts, themselves built from the REST routes' schemas),
 * so the SDK, the server and the REST API cannot disagree. A type-only import: nothing of
 * it reaches a browser bundle.
 */
export type ClientFrameMap = { [K in keyof FrameSchemas]: Omit<Static<FrameSchemas[K]>, 'type' | 'id'> };
type FrameSchemas = typeof CLIENT_FRAME_SCHEMAS;
export type ClientFrameType = keyof ClientFrameMap;
export type ClientFrame = { [K in ClientFrameType]: { type: K; id?: string } & ClientFrameMap[K] }[ClientFrameType];
