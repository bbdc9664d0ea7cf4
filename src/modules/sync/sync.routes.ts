import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { IdList } from '../common.schemas.js';
import type { PresenceService } from '../presence/presence.service.js';
import type { SyncService } from './sync.service.js';

/** `/v1/sync` (resume over REST, mobile background delivery) and `/v1/presence`. */
export function registerSyncRoutes(app: HttpApp, deps: { sync: SyncService; presence: PresenceService; requireAuth: RequireAuth }): void {
  const security = [{ bearer: [] }];
  app.get(
    '/v1/sync',
    {
      onRequest: deps.requireAuth,
      schema: {
        tags: ['sync'],
        security,
        summary: 'Every event since a cursor, in order; no `since` returns a fresh cursor. Events are the WebSocket event frames.',
        querystring: Type.Object({ since: Type.Optional(Type.String({ maxLength: 2000 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) }),
        response: {
          200: Type.Object({ events: Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })), cursor: Type.String(), hasMore: Type.Boolean() }),
          400: ErrorResponse,
          401: ErrorResponse,
        },
      },
    },
    async (req) => deps.sync.since(authOf(req).userId, req.query.since, req.query.limit ?? 200),
  );

  app.get(
    '/v1/presence',
    {
      onRequest: deps.requireAuth,
      schema: {
        tags: ['presence'],
        security,
        summary: 'Presence of users who share a conversation with you (others are omitted).',
        querystring: Type.Object({ userIds: IdList(500) }),
        response: {
          200: Type.Object({
            presence: Type.Record(Type.String(), Type.Object({ status: Type.String(), lastSeenAt: Type.Optional(Type.String()) })),
          }),
          400: ErrorResponse,
          401: ErrorResponse,
        },
      },
    },
    async (req) => ({ presence: await deps.presence.visibleTo(authOf(req).userId, req.query.userIds.split(',')) }),
  );
}
