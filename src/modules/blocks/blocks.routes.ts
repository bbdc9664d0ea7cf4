import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { Id, PublicUser } from '../users/users.schemas.js';
import type { BlocksService } from './blocks.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const Params = Type.Object({ userId: Id });

/** `/v1/me/blocks`: block, unblock, list. */
export function registerBlocksRoutes(app: HttpApp, deps: { blocks: BlocksService; requireAuth: RequireAuth }): void {
  const { blocks, requireAuth } = deps;
  const schema = { tags: ['users'], security: [{ bearer: [] }] };
  app.get(
    '/v1/me/blocks',
    { onRequest: requireAuth, schema: { ...schema, summary: 'Users you blocked, newest first.', response: { 200: Type.Object({ blocks: Type.Array(Type.Object({ user: PublicUser, createdAt: Type.String({ format: 'date-time' }) })) }), ...errors } } },
    async (req) => blocks.list(authOf(req).userId),
  );
  app.put(
    '/v1/me/blocks/:userId',
    { onRequest: requireAuth, schema: { ...schema, summary: 'Block a user (idempotent).', params: Params, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await blocks.block(authOf(req).userId, req.params.userId);
      return reply.status(204).send(null);
    },
  );
  app.delete(
    '/v1/me/blocks/:userId',
    { onRequest: requireAuth, schema: { ...schema, summary: 'Unblock a user.', params: Params, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await blocks.unblock(authOf(req).userId, req.params.userId);
      return reply.status(204).send(null);
    },
  );
}
