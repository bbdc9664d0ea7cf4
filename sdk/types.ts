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
  /** The address was confirmed through the emailed link. */
  emailVerified?: boolean;
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
  /** `system` messages record membership changes and calls; their `text` is a description (calls: "missed audio call", "video call, 12 min"). */
  kind: 'user' | 'system';
  text: string | null;
  attachments: Media[];
  replyToId?: string;
  mentions: string[];
  reactions: Record<string, string[]>;
  /** For system messages: what happened. */
  system?: {
    action: 'created' | 'member.added' | 'member.removed' | 'member.left' | 'updated' | 'pinned' | 'unpinned' | 'admin.added' | 'admin.removed' | 'owner.transferred' | 'call.missed' | 'call.ended';
    userIds?: string[];
    actorId: string;
    /** For `pinned`/`unpinned`: the message. */
    messageId?: string;
  };
  createdAt: string;
  editedAt?: string;
  deletedAt?: string;
  /** On a thread reply: the thread's root message. */
  threadRootId?: string;
  /** On a thread root: live replies, the newest reply's time, and who replied. */
  threadReplyCount?: number;
  threadLastReplyAt?: string;
  threadParticipants?: string[];
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

export type CallKind = 'audio' | 'video';
export type CallProvider = 'getstream' | 'aliyun' | 'p2p';

export interface CallParticipant {
  userId: string;
  /** invited (ringing), joined (in the call now), left, declined. */
  state: 'invited' | 'joined' | 'left' | 'declined';
  joinedAt?: string;
  leftAt?: string;
  /** Seconds in the call so far (summed over re-joins; the current stretch counts once they leave). */
  seconds: number;
}

export interface Call {
  id: string;
  conversationId: string;
  kind: CallKind;
  provider: CallProvider;
  status: 'ringing' | 'active' | 'ended';
  /** Once ended: completed, missed (nobody answered in time, or the caller hung up first), or declined (everyone asked said no). */
  endReason?: 'completed' | 'missed' | 'declined';
  createdBy: string;
  participants: CallParticipant[];
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  durationSeconds?: number;
}

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** What a client needs to connect, by provider. */
export type CallCredentials =
  | { provider: 'getstream'; apiKey: string; token: string; callType: string; callId: string; userId: string; baseUrl: string }
  | { provider: 'aliyun'; appId: string; channelId: string; userId: string; nonce: string; timestamp: number; token: string; gslb: string[] }
  | { provider: 'p2p'; iceServers: IceServer[] };

/** One message search result: open the conversation at `seq` and highlight the message. */
export interface SearchHit {
  message: Message;
  conversationId: string;
  /** The message's seq: the client opens the conversation there. */
  seq: number;
  /** A window of the text around the first match. */
  snippet: string;
  /** Matched words in `snippet`, as UTF-16 offsets (render them highlighted). */
  highlights: { start: number; length: number }[];
}

/** A followed thread with your unread replies in it. */
export interface ThreadSummary {
  conversationId: string;
  rootId: string;
  replyCount: number;
  lastReplyAt?: string;
  participants: string[];
  unreadCount: number;
}

export interface Pin {
  message: Message;
  pinnedBy: string;
  pinnedAt: string;
}

/** The text a message had before one edit. */
export interface MessageEdit {
  text: string | null;
  editedAt: string;
  editorId: string;
}

export interface Block {
  user: User;
  createdAt: string;
}

export interface Report {
  id: string;
  conversationId: string;
  messageId: string;
  reporterId: string;
  reportedUserId: string;
  reason: string;
  /** The message text when it was reported. */
  messageText: string | null;
  status: 'open' | 'resolved';
  createdAt: string;
  resolvedAt?: string;
  resolvedBy?: string;
}

export interface PresenceEvent {
  userId: string;
  status: 'online' | 'offline';
  lastSeenAt?: string;
}

/** Server → client frames, by type. */
/** An Open Graph preview of a link in a message (all plain text, to render as text; `imageUrl` is the page's own). */
export interface LinkPreview {
  url: string;
  title: string | null;
  description: string | null;
  imageUrl: string | null;
  siteName: string | null;
}

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
  /** A member's role changed (promotion, demotion, ownership transfer). */
  'member.updated': { conversationId: string; userId: string; role: Role };
  /** `userId` pinned or unpinned the message. */
  'message.pinned': { conversationId: string; messageId: string; seq: number; userId: string };
  'message.unpinned': { conversationId: string; messageId: string; seq: number; userId: string };
  /** A thread's summary changed (a reply was added or deleted). */
  'thread.updated': { conversationId: string; rootId: string; replyCount: number; lastReplyAt?: string; participants: string[] };
  /** To the members a call rings for (each of their connections), not to the caller. */
  'call.ringing': { call: Call };
  /** To the conversation, on every change (join, leave, decline, status). */
  'call.updated': { call: Call };
  /** To the conversation, once; `call.durationSeconds` is set. */
  'call.ended': { call: Call };
  'call.signal': { callId: string; from: string; data: unknown };
  /** Link previews were attached to a message (fetched by the server after the send). */
  'link.previews': { conversationId: string; messageId: string; previews: LinkPreview[] };
}

export type ServerEventType = keyof ServerEventMap;
export type ServerEvent = { [K in ServerEventType]: { type: K } & ServerEventMap[K] }[ServerEventType];
/** Events that `/v1/sync` and `resume` replay. */
export type SyncEvent = Extract<ServerEvent, { type: 'message.new' | 'message.updated' | 'message.deleted' | 'reaction.updated' | 'read' | 'member.added' | 'member.removed' | 'conversation.updated' | 'member.updated' | 'message.pinned' | 'message.unpinned' | 'thread.updated' }>;

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
