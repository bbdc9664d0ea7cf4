import { Type } from 'typebox';
import { MessageSchema } from '../messages/messages.schemas.js';

export const Level = Type.Union([Type.Literal('all'), Type.Literal('mentions'), Type.Literal('none')], {
  description: 'all: every message; mentions: only messages that mention you (others sync silently); none: nothing.',
});

export const ConversationNotificationsSchema = Type.Object(
  {
    level: Level,
    mutedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'No notifications at all until this time.' }),
    isDefault: Type.Boolean({ description: 'true while never set: direct conversations default to all, groups to mentions.' }),
  },
  { title: 'ConversationNotifications' },
);

export const PutConversationNotificationsBody = Type.Object(
  {
    level: Level,
    mutedUntil: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const MyNotificationsSchema = Type.Object(
  {
    email: Type.Boolean({ description: 'Missed-messages emails on or off.' }),
    emailDelaySeconds: Type.Integer({ description: 'How long after the first unread message the email is sent (messages until then batch into it).' }),
    pushPreview: Type.Boolean({ description: 'false: pushes say "New message" and carry no message text.' }),
  },
  { title: 'MyNotifications' },
);

export const PatchMyNotificationsBody = Type.Object(
  {
    email: Type.Optional(Type.Boolean()),
    emailDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86400 })),
    pushPreview: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const MentionSchema = Type.Object(
  {
    conversationId: Type.String(),
    messageId: Type.String(),
    seq: Type.Integer(),
    senderId: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    read: Type.Boolean(),
    message: Type.Union([MessageSchema, Type.Null()]),
  },
  { title: 'Mention' },
);

export const MentionsPageSchema = Type.Object({
  mentions: Type.Array(MentionSchema),
  unreadCount: Type.Integer({ description: 'Unread mentions over every conversation you are in.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const MentionsQuery = Type.Object({ cursor: Type.Optional(Type.String({ maxLength: 200 })) });

export const UnsubscribeQuery = Type.Object({ u: Type.String({ maxLength: 64 }), sig: Type.String({ maxLength: 100 }) });
