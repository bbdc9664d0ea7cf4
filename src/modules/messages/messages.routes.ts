import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import { Id } from '../users/users.schemas.js';
import type { MessagesService } from './messages.service.js';
import { EditMessageBody, HistoryQuery, MessageSchema, SendMessageBody } from './messages.schemas.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse };
const Params = Type.Object({ id: Id });
const MessageParams = Type.Object({ id: Id, messageId: Id });
const ReactionParams = Type.Object({ id: Id, messageId: Id, emoji: Type.String({ minLength: 1, maxLength: 128 }) });

/** `/v1/conversations/:id/messages`: send, history, edit, delete, reactions. */
export function registerMessagesRoutes(app: HttpApp, deps: { messages: MessagesService; requireAuth: RequireAuth; limiter: RateLimiter; config: Config }): void {
  const { messages: svc, requireAuth, limiter, config } = deps;
  const base = { onRequest: requireAuth };
  const tags = ['messages'];
  const security = [{ bearer: [] }];

  app.post(
    '/v1/conversations/:id/messages',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Send a message; the same clientMsgId again returns the stored message (200).',
        params: Params,
        body: SendMessageBody,
        response: { 200: MessageSchema, 201: MessageSchema, ...errors },
      },
    },
    async (req, reply) => {
      const userId = authOf(req).userId;
      await limiter.user(userId, 'send', config.RATE_LIMIT_WS_SEND, 'messages');
      const b = req.body;
      const { message, created } = await svc.send(userId, {
        conversationId: req.params.id,
        clientMsgId: b.clientMsgId,
        ...(b.text !== undefined ? { text: b.text } : {}),
        ...(b.attachments ? { attachments: b.attachments } : {}),
        ...(b.replyToId ? { replyToId: b.replyToId } : {}),
        ...(b.threadRootId ? { threadRootId: b.threadRootId } : {}),
      });
      return reply.status(created ? 201 : 200).send(message);
    },
  );

  app.get(
    '/v1/conversations/:id/messages',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'History by seq: the newest page by default, `before`/`after` a seq; ascending.',
        params: Params,
        querystring: HistoryQuery,
        response: { 200: Type.Object({ messages: Type.Array(MessageSchema), hasMore: Type.Boolean() }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return svc.list(authOf(req).userId, req.params.id, {
        limit: q.limit ?? 50,
        ...(q.before !== undefined ? { before: q.before } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      });
    },
  );

  app.patch(
    '/v1/conversations/:id/messages/:messageId',
    { ...base, schema: { tags, security, summary: 'Edit your message.', params: MessageParams, body: EditMessageBody, response: { 200: MessageSchema, ...errors } } },
    async (req) => svc.edit(authOf(req).userId, req.params.id, req.params.messageId, req.body.text),
  );

  app.delete(
    '/v1/conversations/:id/messages/:messageId',
    { ...base, schema: { tags, security, summary: 'Delete (tombstone) a message: sender, or group owner/admin.', params: MessageParams, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await svc.remove(authOf(req).userId, req.params.id, req.params.messageId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/conversations/:id/messages/:messageId/edits',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Edit history: the text before each edit, oldest first (empty once deleted).',
        params: MessageParams,
        response: { 200: Type.Object({ edits: Type.Array(Type.Object({ text: Type.Union([Type.String(), Type.Null()]), editedAt: Type.String({ format: 'date-time' }), editorId: Type.String() })) }), ...errors },
      },
    },
    async (req) => svc.editHistory(authOf(req).userId, req.params.id, req.params.messageId),
  );

  for (const [method, add] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/v1/conversations/:id/messages/:messageId/reactions/:emoji',
      onRequest: requireAuth,
      schema: { tags, security, summary: add ? 'Add your reaction.' : 'Remove your reaction.', params: ReactionParams, response: { 200: MessageSchema, ...errors } },
      handler: async (req) => svc.react(authOf(req).userId, req.params.id, req.params.messageId, req.params.emoji, add),
    });
  }
}
