import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import type { AccountEmailService } from './account-email.service.js';

const Token = Type.String({ minLength: 20, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });
const Password = Type.String({ minLength: 8, maxLength: 1024 });

/** An HTML page in the OpenAPI document; the 400 of the link page is HTML for a bad token, JSON (schema errors) for a malformed one. */
const htmlPage = { description: 'An HTML page for the browser that opened the link.', content: { 'text/html': { schema: Type.String() } } };
const htmlOrError = { description: 'An HTML page, or a JSON error when the query is malformed.', content: { 'text/html': { schema: Type.String() }, 'application/json': { schema: ErrorResponse } } };

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">${body}</body></html>`;
}

/** Password reset and email verification (links sent by email). */
export function registerAccountEmailRoutes(app: HttpApp, deps: { accountEmail: AccountEmailService; requireAuth: RequireAuth }): void {
  const svc = deps.accountEmail;
  const tags = ['auth'];

  app.post(
    '/v1/auth/password/forgot',
    {
      schema: {
        tags,
        summary: 'Sends a password reset link to the address if it has an account. Always 202 (no account enumeration); rate-limited per client address.',
        body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }),
        response: { 202: Type.Null(), 400: ErrorResponse, 429: ErrorResponse },
      },
    },
    async (req, reply) => {
      await svc.forgotPassword(req.body.email, req.ip);
      return reply.status(202).send(null);
    },
  );
  app.post(
    '/v1/auth/password/reset',
    {
      schema: {
        tags,
        summary: 'Sets a new password with the token from the reset link (single use, expiring) and signs the account out everywhere.',
        body: Type.Object({ token: Token, password: Password }),
        response: { 204: Type.Null(), 400: ErrorResponse },
      },
    },
    async (req, reply) => {
      await svc.resetPassword(req.body.token, req.body.password);
      return reply.status(204).send(null);
    },
  );
  // The page the reset link opens: a form that posts to the route above.
  app.get(
    '/v1/auth/password/reset',
    { schema: { tags, summary: 'The page behind the password reset link.', querystring: Type.Object({ token: Token }), produces: ['text/html'], response: { 200: htmlPage } } },
    async (req, reply) => {
      const token = JSON.stringify(req.query.token);
      return reply.type('text/html; charset=utf-8').send(
        page(
          'Reset password',
          `<h1>Choose a new password</h1><form id="f"><input type="password" id="p" minlength="8" required autocomplete="new-password"> <button>Set password</button></form><p id="m"></p>
<script>document.getElementById('f').onsubmit=async(e)=>{e.preventDefault();const r=await fetch('/v1/auth/password/reset',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({token:${token},password:document.getElementById('p').value})});document.getElementById('m').textContent=r.ok?'Done. Sign in with your new password.':'This link is not valid any more.'}</script>`,
        ),
      );
    },
  );
  app.get(
    '/v1/auth/email/verify',
    { schema: { tags, summary: 'The email verification link: marks the address verified.', querystring: Type.Object({ token: Token }), produces: ['text/html'], response: { 200: htmlPage, 400: htmlOrError } } },
    async (req, reply) => {
      try {
        await svc.verifyEmail(req.query.token);
        return reply.type('text/html; charset=utf-8').send(page('Email confirmed', '<p>Your email address is confirmed.</p>'));
      } catch {
        return reply.status(400).type('text/html; charset=utf-8').send(page('Link not valid', '<p>This verification link is not valid (used, expired or mistyped).</p>'));
      }
    },
  );
  app.post(
    '/v1/auth/email/verify',
    { schema: { tags, summary: 'Marks the address verified with the token from the link.', body: Type.Object({ token: Token }), response: { 204: Type.Null(), 400: ErrorResponse } } },
    async (req, reply) => {
      await svc.verifyEmail(req.body.token);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/v1/me/email-verification',
    {
      onRequest: deps.requireAuth,
      schema: { tags, security: [{ bearer: [] }], summary: 'Whether your email address is verified.', response: { 200: Type.Object({ email: Type.String(), verified: Type.Boolean() }), 401: ErrorResponse } },
    },
    async (req) => svc.verificationStatus(authOf(req).userId),
  );
  app.post(
    '/v1/me/email-verification',
    { onRequest: deps.requireAuth, schema: { tags, security: [{ bearer: [] }], summary: 'Sends the verification link again.', response: { 202: Type.Null(), 401: ErrorResponse } } },
    async (req, reply) => {
      await svc.sendVerification(authOf(req).userId);
      return reply.status(202).send(null);
    },
  );
}
