import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { Id } from '../users/users.schemas.js';
import { ReportBody, ReportSchema, ReportsQuery } from './moderation.schemas.js';
import type { ModerationService } from './moderation.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

/** Reports (`POST .../messages/:messageId/report`) and the `/v1/admin` routes for deployment administrators. */
export function registerModerationRoutes(app: HttpApp, deps: { moderation: ModerationService; requireAuth: RequireAuth }): void {
  const { moderation: svc, requireAuth } = deps;
  const security = [{ bearer: [] }];
  const admin = { tags: ['admin'], security };

  app.post(
    '/v1/conversations/:id/messages/:messageId/report',
    {
      onRequest: requireAuth,
      schema: {
        tags: ['messages'],
        security,
        summary: 'Report a message to the deployment administrators (once per message: again returns the first report, 200).',
        params: Type.Object({ id: Id, messageId: Id }),
        body: ReportBody,
        response: { 200: ReportSchema, 201: ReportSchema, ...errors },
      },
    },
    async (req, reply) => {
      const { report, created } = await svc.report(authOf(req).userId, req.params.id, req.params.messageId, req.body.reason);
      return reply.status(created ? 201 : 200).send(report);
    },
  );

  app.get(
    '/v1/admin/reports',
    { onRequest: requireAuth, schema: { ...admin, summary: 'Reports, newest first (administrators).', querystring: ReportsQuery, response: { 200: Type.Object({ reports: Type.Array(ReportSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors } } },
    async (req) => svc.listReports(authOf(req).userId, { status: req.query.status ?? 'open', limit: req.query.limit ?? 50, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) }),
  );

  app.post(
    '/v1/admin/reports/:id/resolve',
    { onRequest: requireAuth, schema: { ...admin, summary: 'Mark a report resolved (administrators).', params: Type.Object({ id: Id }), response: { 200: ReportSchema, ...errors } } },
    async (req) => svc.resolveReport(authOf(req).userId, req.params.id),
  );

  app.delete(
    '/v1/admin/conversations/:id/messages/:messageId',
    {
      onRequest: requireAuth,
      schema: { ...admin, summary: 'Delete any message (administrators); its open reports are resolved.', params: Type.Object({ id: Id, messageId: Id }), response: { 204: Type.Null(), ...errors } },
    },
    async (req, reply) => {
      await svc.deleteMessage(authOf(req).userId, req.params.id, req.params.messageId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/admin/users/:id/deactivate',
    {
      onRequest: requireAuth,
      schema: {
        ...admin,
        summary: 'Deactivate an account (administrators): sessions revoked, sockets closed on every gateway, login refused.',
        params: Type.Object({ id: Id }),
        response: { 200: Type.Object({ id: Type.String(), deactivatedAt: Type.String({ format: 'date-time' }), sessionsRevoked: Type.Integer() }), ...errors },
      },
    },
    async (req) => svc.deactivate(authOf(req).userId, req.params.id),
  );
}
