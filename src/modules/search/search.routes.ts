import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { MessageSearchQuery, MessageSearchResponse } from './search.schemas.js';
import type { SearchService } from './search.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };

/** `/v1/search/messages`. */
export function registerSearchRoutes(app: HttpApp, deps: { search: SearchService; requireAuth: RequireAuth }): void {
  const { search, requireAuth } = deps;
  app.get(
    '/v1/search/messages',
    {
      onRequest: requireAuth,
      schema: {
        tags: ['search'],
        security: [{ bearer: [] }],
        summary: "Full-text search over the caller's conversations, newest first, with highlighted snippets and the seq to open at.",
        querystring: MessageSearchQuery,
        response: { 200: MessageSearchResponse, ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return search.messages(authOf(req).userId, {
        q: q.q,
        limit: q.limit ?? 20,
        ...(q.conversationId !== undefined ? { conversationId: q.conversationId } : {}),
        ...(q.from !== undefined ? { from: q.from } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
        ...(q.has !== undefined ? { has: q.has } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
    },
  );
}
