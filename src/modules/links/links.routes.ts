import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { MAX_MESSAGE_IDS, type LinksService } from './links.service.js';

const Preview = Type.Object(
  {
    url: Type.String(),
    title: Type.Union([Type.String(), Type.Null()]),
    description: Type.Union([Type.String(), Type.Null()]),
    imageUrl: Type.Union([Type.String(), Type.Null()]),
    siteName: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'LinkPreview' },
);

/** `GET /v1/conversations/:id/link-previews?messageIds=a,b`: the previews attached to messages. */
export function registerLinksRoutes(app: HttpApp, deps: { links: LinksService; requireAuth: RequireAuth }): void {
  app.get(
    '/v1/conversations/:id/link-previews',
    {
      onRequest: deps.requireAuth,
      schema: {
        tags: ['messages'],
        security: [{ bearer: [] }],
        summary: `Link previews attached to messages of the conversation (comma-separated ids, at most ${MAX_MESSAGE_IDS}); a message without one is absent. Live updates: the \`link.previews\` WebSocket event.`,
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        querystring: Type.Object({ messageIds: Type.String({ minLength: 1, maxLength: 8000, pattern: '^[A-Za-z0-9_,-]+$' }) }),
        response: { 200: Type.Object({ previews: Type.Record(Type.String(), Type.Array(Preview)) }), 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (req) => {
      const ids = [...new Set(req.query.messageIds.split(',').filter(Boolean))];
      return { previews: await deps.links.previewsFor(authOf(req).userId, req.params.id, ids) };
    },
  );
}
