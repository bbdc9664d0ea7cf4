import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { Id, PublicUser, SelfUser, UpdateMeBody, UserSearchQuery } from './users.schemas.js';
import type { UsersService } from './users.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };

/** `/v1/me` and `/v1/users`. */
export function registerUsersRoutes(app: HttpApp, deps: { users: UsersService; requireAuth: RequireAuth }): void {
  const { users, requireAuth } = deps;
  const security = [{ bearer: [] }];

  app.get('/v1/me', { onRequest: requireAuth, schema: { tags: ['users'], security, response: { 200: SelfUser, ...errors } } }, async (req) =>
    users.me(authOf(req).userId),
  );

  app.patch(
    '/v1/me',
    { onRequest: requireAuth, schema: { tags: ['users'], security, body: UpdateMeBody, response: { 200: SelfUser, ...errors } } },
    async (req) => users.updateMe(authOf(req).userId, req.body),
  );

  app.get(
    '/v1/users/:id',
    { onRequest: requireAuth, schema: { tags: ['users'], security, params: Type.Object({ id: Id }), response: { 200: PublicUser, ...errors } } },
    async (req) => users.get(req.params.id),
  );

  app.get(
    '/v1/users',
    {
      onRequest: requireAuth,
      schema: {
        tags: ['users'],
        security,
        summary: 'People search: any part of the username or display name (not people you blocked).',
        querystring: UserSearchQuery,
        response: { 200: Type.Object({ users: Type.Array(PublicUser) }), ...errors },
      },
    },
    async (req) => ({ users: await users.search(req.query.query, req.query.limit ?? 20, authOf(req).userId) }),
  );
}
