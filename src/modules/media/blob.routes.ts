import type { HttpApp } from '../../gateway/http.js';
import type { SignedQuery, SignedUrlServer } from '../../platform/blob/index.js';

/**
 * `PUT`/`GET /v1/blobs/<key>`: the local blob adapter's signed URLs (no bearer token: the
 * signature is the authorization). HTTP only; the adapter verifies and serves.
 */
export function registerBlobRoutes(app: HttpApp, server: SignedUrlServer): void {
  void app.register(async (scope) => {
    // The body is the object itself, of any type: stream it, never parse or buffer it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

    scope.put('/v1/blobs/*', { schema: { hide: true } }, async (req, reply) => {
      const key = (req.params as Record<string, string | undefined>)['*'] ?? '';
      const contentLength = req.headers['content-length'];
      await server.acceptUpload(
        key,
        req.query as SignedQuery,
        { contentType: req.headers['content-type'] ?? '', ...(contentLength !== undefined ? { contentLength } : {}) },
        req.raw,
      );
      return reply.status(200).send();
    });

    scope.get('/v1/blobs/*', { schema: { hide: true } }, async (req, reply) => {
      const key = (req.params as Record<string, string | undefined>)['*'] ?? '';
      const r = await server.openDownload(key, req.query as SignedQuery, req.headers.range);
      void reply.status(r.status).headers(r.headers);
      return r.body ? reply.send(r.body) : reply.send();
    });
  });
}
