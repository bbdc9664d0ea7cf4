import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import type { CallsService } from './calls.service.js';
import { CallParams, CallSchema, CallWithCredentialsSchema, HistoryQuery, HistorySchema, StartCallBody } from './calls.schemas.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse };

/** `/v1/calls`: start, join, decline, leave, end, read, history. Members of the call's conversation only (others: 404). */
export function registerCallsRoutes(app: HttpApp, deps: { calls: CallsService; requireAuth: RequireAuth }): void {
  const { calls, requireAuth } = deps;
  const base = { onRequest: requireAuth };
  const tags = ['calls'];
  const security = [{ bearer: [] }];
  const params = CallParams;

  app.post(
    '/v1/calls',
    {
      ...base,
      schema: {
        tags,
        security,
        summary:
          'Start a call in a conversation: 201 with the call (ringing for the other members) and your credentials. When a call is already open there, you join it instead: 200 with that call (whatever its kind).',
        body: StartCallBody,
        response: { 200: CallWithCredentialsSchema, 201: CallWithCredentialsSchema, ...errors },
      },
    },
    async (req, reply) => {
      const { created, ...r } = await calls.start(authOf(req).userId, req.body);
      return reply.status(created ? 201 : 200).send(r);
    },
  );

  app.get(
    '/v1/calls',
    {
      ...base,
      schema: { tags, security, summary: "A conversation's calls, newest first (members only).", querystring: HistoryQuery, response: { 200: HistorySchema, ...errors } },
    },
    async (req) => calls.history(authOf(req).userId, req.query.conversationId, { limit: req.query.limit ?? 30, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) }),
  );

  app.get('/v1/calls/:id', { ...base, schema: { tags, security, summary: 'One call.', params, response: { 200: CallSchema, ...errors } } }, async (req) => calls.get(authOf(req).userId, req.params.id));

  app.post(
    '/v1/calls/:id/join',
    { ...base, schema: { tags, security, summary: 'Join (accept) an open call; 409 once it has ended.', params, response: { 200: CallWithCredentialsSchema, ...errors } } },
    async (req) => calls.join(authOf(req).userId, req.params.id),
  );
  app.post(
    '/v1/calls/:id/decline',
    { ...base, schema: { tags, security, summary: 'Decline a ringing call; when everyone asked declined, it ends (declined).', params, response: { 200: CallSchema, ...errors } } },
    async (req) => calls.decline(authOf(req).userId, req.params.id),
  );
  app.post(
    '/v1/calls/:id/leave',
    { ...base, schema: { tags, security, summary: 'Hang up; with fewer than two left in it (or the caller leaving a ringing call) the call ends for everyone.', params, response: { 200: CallSchema, ...errors } } },
    async (req) => calls.leave(authOf(req).userId, req.params.id),
  );
  app.post(
    '/v1/calls/:id/end',
    { ...base, schema: { tags, security, summary: 'End the call for everyone (someone in the call, or its caller).', params, response: { 200: CallSchema, ...errors } } },
    async (req) => calls.end(authOf(req).userId, req.params.id),
  );
}
