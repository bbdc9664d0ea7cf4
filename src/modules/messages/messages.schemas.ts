import { Type } from 'typebox';
import { ID_PATTERN } from '../../id-shape.js';

export const MediaSchema = Type.Object(
  {
    id: Type.String(),
    ownerId: Type.String(),
    filename: Type.String(),
    contentType: Type.String(),
    size: Type.Integer(),
    width: Type.Optional(Type.Integer()),
    height: Type.Optional(Type.Integer()),
    url: Type.Optional(Type.String()),
    thumbnailUrl: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Media', additionalProperties: true },
);

export const MessageSchema = Type.Object(
  {
    id: Type.String(),
    conversationId: Type.String(),
    seq: Type.Integer({ description: 'Per-conversation, strictly increasing from 1, no gaps.' }),
    rev: Type.Integer({ description: 'Bumped on every change of this message; the highest rev is the newest state.' }),
    senderId: Type.String(),
    clientMsgId: Type.String(),
    kind: Type.Union([Type.Literal('user'), Type.Literal('system')]),
    text: Type.Union([Type.String(), Type.Null()]),
    attachments: Type.Array(MediaSchema),
    replyToId: Type.Optional(Type.String()),
    mentions: Type.Array(Type.String()),
    reactions: Type.Record(Type.String(), Type.Array(Type.String())),
    system: Type.Optional(
      Type.Object({ action: Type.String(), actorId: Type.String(), userIds: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: true }),
    ),
    createdAt: Type.String({ format: 'date-time' }),
    editedAt: Type.Optional(Type.String({ format: 'date-time' })),
    deletedAt: Type.Optional(Type.String({ format: 'date-time' })),
    threadRootId: Type.Optional(Type.String({ description: 'On a thread reply: the root message.' })),
    threadReplyCount: Type.Optional(Type.Integer({ description: 'On a thread root: live replies.' })),
    threadLastReplyAt: Type.Optional(Type.String({ format: 'date-time' })),
    threadParticipants: Type.Optional(Type.Array(Type.String(), { description: 'On a thread root: who replied.' })),
  },
  { title: 'Message' },
);

const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const ClientMsgId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' });
/** An id Parley issued (src/id-shape.ts): anything else, a NUL included, is refused at the edge. */
export const EntityId = Type.String({ pattern: ID_PATTERN, description: '32 lowercase hex characters.' });
// JSON Schema's maxLength counts code points (Ajv does too), as api.md counts characters.
export const MessageText = Type.String({ maxLength: 4000, description: 'At most 4000 characters (code points).' });
export const MediaIds = Type.Array(EntityId, { maxItems: 10 });

export const SendMessageBody = Type.Object({
  clientMsgId: ClientMsgId,
  text: Type.Optional(Type.Union([MessageText, Type.Null()])),
  attachments: Type.Optional(MediaIds),
  replyToId: Type.Optional(Type.Union([EntityId, Type.Null()])),
  threadRootId: Type.Optional(Type.Union([EntityId, Type.Null()], { description: 'Starts or continues the thread of this message.' })),
});

export const HistoryQuery = Type.Object({
  before: Type.Optional(Seq),
  after: Type.Optional(Seq),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});

export const EditMessageBody = Type.Object({ text: MessageText });
