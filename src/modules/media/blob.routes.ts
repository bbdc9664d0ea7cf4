import type { HttpApp } from '../../gateway/http.js';
import { notFound } from '../../errors.js';
import { BLOB_KEY_PATTERN } from '../../platform/blob/blob.port.js';
import type { SignedQuery, SignedUrlServer } from '../../platform/blob/index.js';

/**
 * `PUT`/`GET /v1/blobs/<key>`: the local blob adapter's signed URLs (no bearer token: the
 * signature is the authorization). HTTP only; the adapter verifies and serves.
 *
 * CORS, like an S3 bucket configured for browser uploads: a page opened at any address
 * (127.0.0.1, a LAN IP, another hostname than PUBLIC_URL) PUTs and fetches these URLs
 * cross-origin. Any origin is allowed because the signature is the only credential:
 * no cookie or bearer token is accepted here, so a foreign page gains nothing.
 */
export function registerBlobRoutes(app: HttpApp, server: SignedUrlServer): void {
  void app.register(async (scope) => {
    // The body is the object itself, of any type: stream it, never parse or buffer it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

    scope.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/v1/blobs/')) return;
      void reply
        .header('access-control-allow-origin', '*')
        .header('access-control-expose-headers', 'content-length, content-range, content-type, content-disposition, etag')
        .header('vary', 'origin');
    });

    // The preflight a browser sends before a cross-origin PUT with a Content-Type.
    scope.options('/v1/blobs/*', { schema: { hide: true } }, async (req, reply) => {
      const key = (req.params as Record<string, string | undefined>)['*'] ?? '';
      if (!BLOB_KEY_PATTERN.test(key)) throw notFound();
      const asked = req.headers['access-control-request-headers'];
      return reply
        .status(204)
        .header('access-control-allow-methods', 'GET, HEAD, PUT')
        .header('access-control-allow-headers', typeof asked === 'string' && /^[\w\s,-]*$/.test(asked) ? asked : 'content-type, range')
        .header('access-control-max-age', '600')
        .send();
    });

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
