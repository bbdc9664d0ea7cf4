import { Type } from 'typebox';
import { MessageSchema } from '../messages/messages.schemas.js';
import { Id, SINGLE_LINE_TEXT } from '../users/users.schemas.js';

const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const ConversationSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
    title: Type.Optional(Type.String()),
    topic: Type.Optional(Type.String()),
    avatarMediaId: Type.Optional(Type.String()),
    peerId: Type.Optional(Type.String({ description: 'For a direct conversation: the other user.' })),
    memberCount: Type.Integer(),
    lastSeq: Type.Integer(),
    lastMessage: Type.Optional(MessageSchema),
    unreadCount: Type.Integer(),
    unreadMentionCount: Type.Integer(),
    role: RoleSchema,
    lastReadSeq: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Conversation' },
);

export const MemberSchema = Type.Object(
  { userId: Type.String(), role: RoleSchema, joinedAt: Type.String({ format: 'date-time' }), lastReadSeq: Type.Integer() },
  { title: 'Member' },
);

const Title = Type.String({ minLength: 1, maxLength: 100, pattern: SINGLE_LINE_TEXT });
const Topic = Type.String({ maxLength: 500, pattern: '^[^\\u0000]*$' });

export const CreateConversationBody = Type.Union([
  Type.Object({ type: Type.Literal('direct'), userId: Id }),
  Type.Object({ type: Type.Literal('group'), title: Title, topic: Type.Optional(Topic), memberIds: Type.Array(Id, { maxItems: 1000 }) }),
]);

export const UpdateConversationBody = Type.Object({
  title: Type.Optional(Title),
  topic: Type.Optional(Type.Union([Topic, Type.Null()])),
  avatarMediaId: Type.Optional(Type.Union([Id, Type.Null()])),
});

export const ListQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 30 })),
});

export const ConversationParams = Type.Object({ id: Id });
export const MemberParams = Type.Object({ id: Id, userId: Id });
export const AddMembersBody = Type.Object({ userIds: Type.Array(Id, { minItems: 1, maxItems: 1000 }) });
export const MemberRoleBody = Type.Object({ role: RoleSchema });
export const ReadBody = Type.Object({ seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) });
