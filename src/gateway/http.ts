import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { Type } from 'typebox';
import type { Config } from '../config.js';
import { redactSecrets, type Logger } from '../logger.js';
import { invalid, notFound, unauthorized } from '../errors.js';
import { findNul } from '../modules/common.schemas.js';
import type { AuthContext, AuthService } from '../modules/auth/auth.service.js';
import { errorBody, mapError } from './error-mapping.js';
import type { Metrics } from './metrics.js';

/** The Fastify instance type every module's routes are registered on. */
export type HttpApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext;
  }
}

/** Fastify's request log lines, with the credentials of signed URLs and tokens redacted from the URL. */
class RedactingLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    // Shaped for Fastify's `req` serializer, which reads `ip` and `socket` (it writes remoteAddress/remotePort).
    request.log.info({ req: { method: request.method, url: redactSecrets(request.url), host: request.host, ip: request.ip, socket: request.socket, headers: {} } }, 'incoming request');
  }
}

/** Error response schema, shared by every route's OpenAPI description. */
export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { title: 'Error' },
);

/** The caller of an authenticated route (the preHandler guarantees it is set). */
export function authOf(req: FastifyRequest): AuthContext {
  if (!req.auth) throw unauthorized();
  return req.auth;
}

/** Extracts the bearer token; a missing or malformed header is `unauthorized`. */
export function bearerToken(header: string | undefined): string {
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw unauthorized('Missing bearer token.');
  return m[1]!;
}

export interface HttpDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
}

function trustProxy(raw: string): boolean | string[] {
  const v = raw.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Builds the HTTP gateway: validation (bodies strictly typed, query strings coerced),
 * the one error mapping, auth at the edge, OpenAPI, request ids and metrics. Modules
 * register their routes on the returned app.
 */
export async function createHttpApp(deps: HttpDeps): Promise<HttpApp> {
  const { config, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: trustProxy(config.TRUST_PROXY),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    logController: new RedactingLogController(),
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
    // Errors Fastify raises before routing (a URL that is not valid percent-encoding, a
    // bad Content-Type) get the same error body as every other error.
    // HTTP the parser refuses (headers too large, malformed request line): the same error body.
    clientErrorHandler: (err: Error & { code?: string }, socket) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = JSON.stringify(errorBody({ status, code: 'invalid_request', message: status === 431 ? 'Request headers or URL too large.' : 'Malformed HTTP request.', unexpected: false }));
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    },
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const m = mapError(err);
      void reply.status(m.status).send(errorBody(m));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are JSON: a number is not a string. Query strings and params are text, so they
  // are coerced (limit=20 -> 20).
  const ajvBody = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  const ajvText = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats.default(ajvBody);
  addFormats.default(ajvText);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajvBody : ajvText).compile(schema));

  // Awaited so its onRoute hook sees every route registered after it.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Parley API', version: '1', description: 'Self-hostable chat backend. WebSocket frames: see docs/websocket.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });

  app.decorateRequest('auth', undefined);

  // One check for every route: no text anywhere in a request may hold NUL (PostgreSQL
  // text cannot store it, and no field of the API has a use for it).
  app.addHook('preValidation', async (req) => {
    // A path holding one names nothing (see docs/errors.md: malformed path ids are not found).
    if (findNul(req.params) !== null) throw notFound();
    for (const [part, value] of [['body', req.body], ['query', req.query]] as const) {
      const at = findNul(value);
      if (at !== null) throw invalid(`${part}${at === '/' ? '' : at} must not contain NUL characters.`);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const m = mapError(err);
    if (m.unexpected) req.log.error({ err }, 'request failed');
    else req.log.info({ code: m.code, msg: m.message }, 'request refused');
    if (m.retryAfterSeconds !== undefined) void reply.header('retry-after', String(m.retryAfterSeconds));
    return reply.status(m.status).send(errorBody(m));
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody({ status: 404, code: 'not_found', message: `No route ${req.method} ${req.url.split('?')[0]}`, unexpected: false })));

  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}

/** A route hook that authenticates the caller (bearer JWT + live session) into `req.auth`. */
export type RequireAuth = (req: FastifyRequest) => Promise<void>;

export function makeRequireAuth(auth: AuthService): RequireAuth {
  // onRequest, so an unauthenticated caller learns nothing from validation errors.
  return async (req) => {
    req.auth = await auth.authenticate(bearerToken(req.headers.authorization));
  };
}

/** Health and readiness: `/readyz` pings every port and answers 503 if one is down. */
export function registerHealthRoutes(app: HttpApp, checks: Record<string, () => Promise<void>>): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const results: Record<string, string> = {};
    let ok = true;
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          results[name] = 'ok';
        } catch (err) {
          ok = false;
          results[name] = `error: ${(err as Error).message}`;
        }
      }),
    );
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: results });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
