/**
 * The client → server WebSocket frames, as TypeBox schemas built from the same schemas as
 * the REST routes (a `message.send` frame is the REST send body plus `conversationId`), so
 * the contract and its limits are defined once. The gateway compiles these with Ajv; the
 * SDK's `ClientFrameMap` is `Static<>` of them (sdk/types.ts, a type-only import: this file
 * and what it imports have no runtime dependency but typebox, so the SDK stays browser-safe).
 */
import { Type, type Static, type TSchema } from 'typebox';
import { ReadBody } from '../../modules/conversations/conversations.schemas.js';
import { EntityId, SendMessageBody } from '../../modules/messages/messages.schemas.js';

/** The client's request id, echoed in the reply. */
export const FrameId = Type.String({ maxLength: 128 });
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Opaque cursor from `ready`, `pong`, `resumed` or `/v1/sync`: printable ASCII only. */
const Cursor = Type.String({ minLength: 1, maxLength: 2000, pattern: '^[\\x21-\\x7e]+$' });

/** Most conversations one `resume` may name. */
export const MAX_RESUME_CONVERSATIONS = 5000;

export const MessageSendFrame = Type.Object({
  type: Type.Literal('message.send'),
  id: Type.Optional(FrameId),
  conversationId: EntityId,
  ...SendMessageBody.properties,
});
export const ReadFrame = Type.Object({ type: Type.Literal('read'), id: Type.Optional(FrameId), conversationId: EntityId, ...ReadBody.properties });
export const TypingFrame = Type.Object({ type: Type.Literal('typing'), id: Type.Optional(FrameId), conversationId: EntityId });
export const ResumeFrame = Type.Object({
  type: Type.Literal('resume'),
  id: Type.Optional(FrameId),
  cursor: Type.Optional(Cursor),
  // Keys are conversation ids: a malformed key is invalid_request, never a query.
  conversations: Type.Optional(Type.Record(EntityId, Seq, { maxProperties: MAX_RESUME_CONVERSATIONS, additionalProperties: false })),
});
export const CallSignalFrame = Type.Object({
  type: Type.Literal('call.signal'),
  id: Type.Optional(FrameId),
  // Issued by the calls module; printable ASCII (no NUL ever reaches a query), unknown → not_found.
  callId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }),
  to: EntityId,
  data: Type.Unknown(),
});
export const PingFrame = Type.Object({ type: Type.Literal('ping'), id: Type.Optional(FrameId) });

/** Every client frame type and its schema; the gateway refuses any other type. */
export const CLIENT_FRAME_SCHEMAS = {
  'message.send': MessageSendFrame,
  read: ReadFrame,
  typing: TypingFrame,
  resume: ResumeFrame,
  'call.signal': CallSignalFrame,
  ping: PingFrame,
} as const satisfies Record<string, TSchema>;

export type ClientFrameType = keyof typeof CLIENT_FRAME_SCHEMAS;
/** A validated client frame of any type. */
export type ClientFrame = { [K in ClientFrameType]: Static<(typeof CLIENT_FRAME_SCHEMAS)[K]> }[ClientFrameType];
