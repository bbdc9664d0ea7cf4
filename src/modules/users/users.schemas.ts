import { Type, type Static } from 'typebox';
import { Id, SINGLE_LINE_TEXT, Text } from '../common.schemas.js';

// Re-exported: other modules imported them from here before common.schemas existed.
export { Id, SINGLE_LINE_TEXT };

export const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[a-z0-9_.]+$', description: '3–32 of [a-z0-9_.]' });
export const DisplayName = Type.String({ minLength: 1, maxLength: 64, pattern: SINGLE_LINE_TEXT });
export const StatusText = Type.String({ maxLength: 140, pattern: SINGLE_LINE_TEXT });

export const PublicUser = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    displayName: Type.String(),
    avatarMediaId: Type.Optional(Type.String()),
    avatarUrl: Type.Optional(Type.String()),
    statusText: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'User', description: 'Public fields of a user: never email or password data.' },
);
export type PublicUser = Static<typeof PublicUser>;

export const SelfUser = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    displayName: Type.String(),
    email: Type.String(),
    emailVerified: Type.Boolean({ description: 'The address was confirmed through the link emailed at signup (login works either way).' }),
    avatarMediaId: Type.Optional(Type.String()),
    avatarUrl: Type.Optional(Type.String()),
    statusText: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Me', description: 'The caller: public fields plus email.' },
);
export type SelfUser = Static<typeof SelfUser>;

export const UpdateMeBody = Type.Object({
  displayName: Type.Optional(DisplayName),
  avatarMediaId: Type.Optional(Type.Union([Id, Type.Null()])),
  statusText: Type.Optional(Type.Union([StatusText, Type.Null()])),
});
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const UserSearchQuery = Type.Object({
  query: Text({ minLength: 1, maxLength: 64 }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 20 })),
});
