import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { HistoryQuery, MessageSchema } from '../messages/messages.schemas.js';
import { Id } from '../users/users.schemas.js';
import type { ThreadsService } from './threads.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
const ThreadParams = Type.Object({ id: Id, rootId: Id });
const ThreadSummarySchema = Type.Object(
  {
    conversationId: Type.String(),
    rootId: Type.String(),
    replyCount: Type.Integer(),
    lastReplyAt: Type.Optional(Type.String({ format: 'date-time' })),
    participants: Type.Array(Type.String()),
    unreadCount: Type.Integer(),
  },
  { title: 'ThreadSummary' },
);

/** `/v1/conversations/:id/threads`: followed threads, a thread's messages, follow, read. */
export function registerThreadsRoutes(app: HttpApp, deps: { threads: ThreadsService; requireAuth: RequireAuth }): void {
  const { threads, requireAuth } = deps;
  const schema = { tags: ['messages'], security: [{ bearer: [] }] };

  app.get(
    '/v1/conversations/:id/threads',
    { onRequest: requireAuth, schema: { ...schema, summary: 'Threads you follow here, newest reply first, with unread reply counts.', params: Type.Object({ id: Id }), response: { 200: Type.Object({ threads: Type.Array(ThreadSummarySchema) }), ...errors } } },
    async (req) => threads.followed(authOf(req).userId, req.params.id),
  );

  app.get(
    '/v1/conversations/:id/threads/:rootId/messages',
    {
      onRequest: requireAuth,
      schema: {
        ...schema,
        summary: "A thread: its root and a page of replies by seq (the newest page by default, `before`/`after` a seq), ascending; reply with `threadRootId` on send.",
        params: ThreadParams,
        querystring: HistoryQuery,
        response: { 200: Type.Object({ root: MessageSchema, messages: Type.Array(MessageSchema), hasMore: Type.Boolean(), following: Type.Boolean() }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return threads.messages(authOf(req).userId, req.params.id, req.params.rootId, {
        limit: q.limit ?? 50,
        ...(q.before !== undefined ? { before: q.before } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      });
    },
  );

  for (const [method, following] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/v1/conversations/:id/threads/:rootId/follow',
      onRequest: requireAuth,
      schema: { ...schema, summary: following ? 'Follow a thread: its replies count as unread.' : 'Unfollow a thread.', params: ThreadParams, response: { 204: Type.Null(), ...errors } },
      handler: async (req, reply) => {
        await threads.follow(authOf(req).userId, req.params.id, req.params.rootId, following);
        return reply.status(204).send(null);
      },
    });
  }

  app.post(
    '/v1/conversations/:id/threads/:rootId/read',
    {
      onRequest: requireAuth,
      schema: { ...schema, summary: 'Move your read position in a thread forward.', params: ThreadParams, body: Type.Object({ seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }), response: { 204: Type.Null(), ...errors } },
    },
    async (req, reply) => {
      await threads.markRead(authOf(req).userId, req.params.id, req.params.rootId, req.body.seq);
      return reply.status(204).send(null);
    },
  );
}
