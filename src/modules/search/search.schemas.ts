import { Type } from 'typebox';
import { MessageSchema } from '../messages/messages.schemas.js';
import { Id } from '../users/users.schemas.js';

export const MessageSearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 200, description: 'Words; each matches the start of a word (case-insensitive, any language).' }),
  conversationId: Type.Optional(Id),
  from: Type.Optional(Id),
  before: Type.Optional(Type.String({ maxLength: 40, description: 'ISO-8601: created before.' })),
  after: Type.Optional(Type.String({ maxLength: 40, description: 'ISO-8601: created after.' })),
  has: Type.Optional(Type.Literal('attachment')),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 20 })),
});

export const SearchHitSchema = Type.Object(
  {
    message: MessageSchema,
    conversationId: Type.String(),
    seq: Type.Integer(),
    snippet: Type.String(),
    highlights: Type.Array(Type.Object({ start: Type.Integer(), length: Type.Integer() }), { description: 'UTF-16 offsets of matched words in `snippet`.' }),
  },
  { title: 'SearchHit' },
);

export const MessageSearchResponse = Type.Object({ results: Type.Array(SearchHitSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) });
