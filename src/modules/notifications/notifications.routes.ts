import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { ConversationParams } from '../conversations/conversations.schemas.js';
import type { MentionsService } from './mentions.service.js';
import type { NotificationsService } from './notifications.service.js';
import {
  ConversationNotificationsSchema,
  MentionsPageSchema,
  MentionsQuery,
  MyNotificationsSchema,
  PatchMyNotificationsBody,
  PutConversationNotificationsBody,
  UnsubscribeQuery,
} from './notifications.schemas.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">${body}</body></html>`;
}

/** Notification settings (per conversation and per user), mentions, and the one-click unsubscribe link. */
export function registerNotificationsRoutes(app: HttpApp, deps: { notifications: NotificationsService; mentions: MentionsService; requireAuth: RequireAuth }): void {
  const { notifications: svc, requireAuth } = deps;
  const tags = ['notifications'];
  const security = [{ bearer: [] }];

  app.get(
    '/v1/conversations/:id/notifications',
    { onRequest: requireAuth, schema: { tags, security, summary: 'Your notification level and mute in this conversation.', params: ConversationParams, response: { 200: ConversationNotificationsSchema, ...errors } } },
    async (req) => svc.conversationSettings(authOf(req).userId, req.params.id),
  );
  app.put(
    '/v1/conversations/:id/notifications',
    {
      onRequest: requireAuth,
      schema: { tags, security, summary: 'Sets your notification level (all, mentions, none) and mute in this conversation.', params: ConversationParams, body: PutConversationNotificationsBody, response: { 200: ConversationNotificationsSchema, ...errors } },
    },
    async (req) => svc.putConversationSettings(authOf(req).userId, req.params.id, req.body),
  );
  app.get(
    '/v1/me/notifications',
    { onRequest: requireAuth, schema: { tags, security, summary: 'Your email and push settings.', response: { 200: MyNotificationsSchema, 401: ErrorResponse } } },
    async (req) => svc.prefs(authOf(req).userId),
  );
  app.patch(
    '/v1/me/notifications',
    { onRequest: requireAuth, schema: { tags, security, summary: 'Changes your email and push settings.', body: PatchMyNotificationsBody, response: { 200: MyNotificationsSchema, 400: ErrorResponse, 401: ErrorResponse } } },
    async (req) => svc.patchPrefs(authOf(req).userId, req.body),
  );
  app.get(
    '/v1/me/mentions',
    { onRequest: requireAuth, schema: { tags, security, summary: 'Your mentions across conversations, newest first (only conversations you are in).', querystring: MentionsQuery, response: { 200: MentionsPageSchema, ...errors } } },
    async (req) => deps.mentions.list(authOf(req).userId, req.query.cursor),
  );

  // One-click unsubscribe (RFC 8058): mail clients POST "List-Unsubscribe=One-Click" to the
  // link; a person opening it gets a page with a button (a GET never changes anything, so
  // link scanners cannot unsubscribe anyone).
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))));
    scope.get(
      '/v1/notifications/unsubscribe',
      { schema: { tags, summary: 'The page behind the unsubscribe link in emails.', querystring: UnsubscribeQuery, produces: ['text/html'] } },
      async (req, reply) => {
        const q = req.query as { u: string; sig: string };
        const action = `/v1/notifications/unsubscribe?u=${encodeURIComponent(q.u)}&sig=${encodeURIComponent(q.sig)}`;
        return reply
          .type('text/html; charset=utf-8')
          .send(page('Unsubscribe', `<p>Stop missed-message emails from Parley?</p><form method="post" action="${action.replace(/&/g, '&amp;')}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`));
      },
    );
    scope.post(
      '/v1/notifications/unsubscribe',
      {
        schema: {
          tags,
          summary: 'One-click unsubscribe (RFC 8058): turns missed-message emails off for the user the signed link names; no login.',
          querystring: UnsubscribeQuery,
          response: { 200: Type.String(), 404: ErrorResponse },
        },
      },
      async (req, reply) => {
        const q = req.query as { u: string; sig: string };
        if (!(await svc.unsubscribe(q.u, q.sig))) return reply.status(404).type('application/json').send({ error: { code: 'not_found', message: 'This unsubscribe link is not valid.' } });
        return reply.type('text/html; charset=utf-8').send(page('Unsubscribed', '<p>Done: you will get no more missed-message emails. You can turn them back on in the app.</p>'));
      },
    );
  });
}
