import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { Text } from '../common.schemas.js';
import { DisplayName, SelfUser, Username } from '../users/users.schemas.js';
import type { AuthService } from './auth.service.js';

const Tokens = {
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Access token lifetime in seconds.' }),
};
const AuthResult = Type.Object({ user: SelfUser, ...Tokens }, { title: 'AuthResult' });
const TokenPair = Type.Object(Tokens, { title: 'TokenPair' });
const Password = Text({ minLength: 8, maxLength: 1024 });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse };

/** `/v1/auth/*`: signup, login, refresh, logout. */
export function registerAuthRoutes(app: HttpApp, deps: { auth: AuthService; requireAuth: RequireAuth }): void {
  const { auth } = deps;
  const client = (req: { ip: string; headers: Record<string, unknown> }) => {
    const ua = req.headers['user-agent'];
    return typeof ua === 'string' ? { ip: req.ip, userAgent: ua } : { ip: req.ip };
  };

  app.post(
    '/v1/auth/signup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account and a session.',
        body: Type.Object({
          email: Type.String({ format: 'email', maxLength: 254 }),
          username: Username,
          password: Password,
          displayName: Type.Optional(DisplayName),
        }),
        response: { 201: AuthResult, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await auth.signup(req.body, client(req))),
  );

  app.post(
    '/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with email or username.',
        body: Type.Object({ login: Text({ minLength: 1, maxLength: 254 }), password: Text({ minLength: 1, maxLength: 1024 }) }),
        response: { 200: AuthResult, ...errors },
      },
    },
    async (req) => auth.login(req.body, client(req)),
  );

  app.post(
    '/v1/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Rotate a refresh token. A spent token presented again revokes its session.',
        body: Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.-]+$' }) }),
        response: { 200: TokenPair, ...errors },
      },
    },
    async (req) => auth.refresh(req.body.refreshToken),
  );

  app.post(
    '/v1/auth/logout',
    {
      onRequest: deps.requireAuth,
      schema: { tags: ['auth'], summary: 'End the current session.', security: [{ bearer: [] }], response: { 204: Type.Null(), 401: ErrorResponse } },
    },
    async (req, reply) => {
      await auth.logout(authOf(req));
      return reply.status(204).send(null);
    },
  );
}
