import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { MessageSchema } from '../messages/messages.schemas.js';
import { Id } from '../users/users.schemas.js';
import type { PinsService } from './pins.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const PinSchema = Type.Object({ message: MessageSchema, pinnedBy: Type.String(), pinnedAt: Type.String({ format: 'date-time' }) }, { title: 'Pin' });
const PinsResponse = Type.Object({ pins: Type.Array(PinSchema) });

/** `/v1/conversations/:id/pins`. */
export function registerPinsRoutes(app: HttpApp, deps: { pins: PinsService; requireAuth: RequireAuth }): void {
  const { pins, requireAuth } = deps;
  const schema = { tags: ['messages'], security: [{ bearer: [] }] };
  app.get(
    '/v1/conversations/:id/pins',
    { onRequest: requireAuth, schema: { ...schema, summary: 'Pinned messages, newest pin first.', params: Type.Object({ id: Id }), response: { 200: PinsResponse, ...errors } } },
    async (req) => ({ pins: await pins.list(authOf(req).userId, req.params.id) }),
  );
  app.put(
    '/v1/conversations/:id/pins/:messageId',
    {
      onRequest: requireAuth,
      schema: { ...schema, summary: 'Pin a message (group owner/admin; either member of a direct conversation). Idempotent.', params: Type.Object({ id: Id, messageId: Id }), response: { 200: PinsResponse, ...errors } },
    },
    async (req) => ({ pins: await pins.pin(authOf(req).userId, req.params.id, req.params.messageId) }),
  );
  app.delete(
    '/v1/conversations/:id/pins/:messageId',
    { onRequest: requireAuth, schema: { ...schema, summary: 'Unpin a message.', params: Type.Object({ id: Id, messageId: Id }), response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await pins.unpin(authOf(req).userId, req.params.id, req.params.messageId);
      return reply.status(204).send(null);
    },
  );
}
