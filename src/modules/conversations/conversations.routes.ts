import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import type { ConversationsService } from './conversations.service.js';
import {
  AddMembersBody,
  ConversationParams,
  ConversationSchema,
  CreateConversationBody,
  ListQuery,
  MemberParams,
  MemberSchema,
  MemberRoleBody,
  ReadBody,
  UpdateConversationBody,
} from './conversations.schemas.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 429: ErrorResponse };

/** `/v1/conversations`: create, list, get, edit, members, read positions. */
export function registerConversationsRoutes(app: HttpApp, deps: { conversations: ConversationsService; requireAuth: RequireAuth; limiter: RateLimiter; config: Config }): void {
  const { conversations: svc, requireAuth, limiter, config } = deps;
  const base = { onRequest: requireAuth };
  const tags = ['conversations'];
  const security = [{ bearer: [] }];

  app.post(
    '/v1/conversations',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Create a direct conversation (idempotent per pair: 200 with the existing one) or a group.',
        body: CreateConversationBody,
        response: { 200: ConversationSchema, 201: ConversationSchema, ...errors },
      },
    },
    async (req, reply) => {
      const userId = authOf(req).userId;
      const body = req.body;
      if (body.type === 'direct') {
        const { conversation, created } = await svc.createDirect(userId, body.userId);
        return reply.status(created ? 201 : 200).send(conversation);
      }
      return reply.status(201).send(await svc.createGroup(userId, { title: body.title, memberIds: body.memberIds, ...(body.topic ? { topic: body.topic } : {}) }));
    },
  );

  app.get(
    '/v1/conversations',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "The caller's conversations, most recent activity first.",
        querystring: ListQuery,
        response: { 200: Type.Object({ conversations: Type.Array(ConversationSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors },
      },
    },
    async (req) => svc.list(authOf(req).userId, { limit: req.query.limit ?? 30, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) }),
  );

  app.get('/v1/conversations/:id', { ...base, schema: { tags, security, params: ConversationParams, response: { 200: ConversationSchema, ...errors } } }, async (req) =>
    svc.get(authOf(req).userId, req.params.id),
  );

  app.patch(
    '/v1/conversations/:id',
    { ...base, schema: { tags, security, summary: 'Edit a group (owner/admin).', params: ConversationParams, body: UpdateConversationBody, response: { 200: ConversationSchema, ...errors } } },
    async (req) => {
      const b = req.body;
      return svc.update(authOf(req).userId, req.params.id, {
        ...(b.title !== undefined ? { title: b.title } : {}),
        ...(b.topic !== undefined ? { topic: b.topic } : {}),
        ...(b.avatarMediaId !== undefined ? { avatarMediaId: b.avatarMediaId } : {}),
      });
    },
  );

  app.get(
    '/v1/conversations/:id/members',
    { ...base, schema: { tags, security, params: ConversationParams, response: { 200: Type.Object({ members: Type.Array(MemberSchema) }), ...errors } } },
    async (req) => ({ members: await svc.members(authOf(req).userId, req.params.id) }),
  );

  app.post(
    '/v1/conversations/:id/members',
    {
      ...base,
      schema: { tags, security, summary: 'Add members (owner/admin).', params: ConversationParams, body: AddMembersBody, response: { 200: Type.Object({ members: Type.Array(MemberSchema) }), ...errors } },
    },
    async (req) => ({ members: await svc.addMembers(authOf(req).userId, req.params.id, req.body.userIds) }),
  );

  app.delete(
    '/v1/conversations/:id/members/:userId',
    { ...base, schema: { tags, security, summary: 'Remove a member (owner/admin), or leave (yourself).', params: MemberParams, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await svc.removeMember(authOf(req).userId, req.params.id, req.params.userId);
      return reply.status(204).send(null);
    },
  );

  app.patch(
    '/v1/conversations/:id/members/:userId',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "Set a member's role (owner only): `admin`/`member` promotes or demotes; `owner` hands ownership over (the caller becomes an admin).",
        params: MemberParams,
        body: MemberRoleBody,
        response: { 200: Type.Object({ members: Type.Array(MemberSchema) }), ...errors },
      },
    },
    async (req) => ({ members: await svc.setRole(authOf(req).userId, req.params.id, req.params.userId, req.body.role) }),
  );

  app.post(
    '/v1/conversations/:id/read',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Move your read position forward (never backwards).',
        params: ConversationParams,
        body: ReadBody,
        response: { 200: Type.Object({ lastReadSeq: Type.Integer(), unreadCount: Type.Integer() }), ...errors },
      },
    },
    async (req) => {
      const userId = authOf(req).userId;
      // The same per-user budget as the WebSocket `read` frame.
      await limiter.user(userId, 'read', config.RATE_LIMIT_READ, 'read updates');
      return svc.markRead(userId, req.params.id, req.body.seq);
    },
  );
}
