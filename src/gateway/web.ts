/**
 * Serves the built web client (web/dist) at `/`: hashed assets with long cache lifetimes,
 * index.html (and the service worker) never cached, and the SPA fallback — any other GET
 * for a path that is not the API's and does not look like a file answers index.html, so
 * deep links such as /c/<conversationId> work. API-looking paths keep the JSON 404.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { errorBody } from './error-mapping.js';
import type { HttpApp } from './http.js';

/** Paths owned by the server: never answered with the web client. */
const API_PREFIXES = ['/v1/', '/v1', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs'];

/** The repository's web/dist, found by walking up from this file (src/ or dist/src/). */
export function defaultWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'web'))) return join(dir, 'web', 'dist');
    dir = dirname(dir);
  }
  return resolve('web', 'dist');
}

function isApiPath(path: string): boolean {
  return API_PREFIXES.some((p) => path === p || (p.endsWith('/') ? path.startsWith(p) : path.startsWith(p + '/')));
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#eee;padding:.1rem .3rem;border-radius:3px}</style>
</head><body><h1>Parley is running</h1>
<p>The web client is not built. Build it with <code>npm run build:web</code> (or start with <code>npm start</code>, which builds it), then reload this page.</p>
<p>The API is at <code>/v1</code>; its description is at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>`;

function notFoundJson(reply: FastifyReply, method: string, path: string) {
  return reply
    .status(404)
    .send(errorBody({ status: 404, code: 'not_found', message: `No route ${method} ${path}`, unexpected: false }));
}

/** Registers the web client's routes. `dir` is the Vite output folder (web/dist). */
export function registerWebClient(app: HttpApp, dir: string = defaultWebDir()): void {
  const root = resolve(dir);
  void app.register(async (scope) => {
    await scope.register(fastifyStatic, { root, serve: false, decorateReply: true });

    const fileIn = (urlPath: string): string | undefined => {
      let rel: string;
      try {
        rel = decodeURIComponent(urlPath).replace(/^\/+/, '');
      } catch {
        return undefined;
      }
      if (!rel || rel.includes('\0')) return undefined;
      const abs = resolve(root, rel);
      if (abs !== root && !abs.startsWith(root + sep)) return undefined;
      try {
        return statSync(abs).isFile() ? abs.slice(root.length + 1).split(sep).join('/') : undefined;
      } catch {
        return undefined;
      }
    };

    const sendIndex = (reply: FastifyReply) => {
      if (!existsSync(join(root, 'index.html'))) {
        return reply.status(404).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
      }
      return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
    };

    scope.get('/*', { schema: { hide: true } }, async (req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      if (isApiPath(path)) return notFoundJson(reply, req.method, path);
      if (path === '/' || path === '/index.html') return sendIndex(reply);
      const file = fileIn(path);
      if (file) {
        // Vite puts content-hashed files under assets/: they never change.
        if (file.startsWith('assets/')) {
          return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(file, { cacheControl: false });
        }
        return reply.header('cache-control', 'no-cache').sendFile(file, { cacheControl: false });
      }
      // A missing file (has an extension) is a 404; anything else is a client-side route.
      if (extname(path) !== '' || path.startsWith('/assets/')) return notFoundJson(reply, req.method, path);
      return sendIndex(reply);
    });
  });
}
