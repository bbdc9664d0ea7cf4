import { Type } from 'typebox';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { AvatarQuery, CreateUploadBody, Media, MediaId, UploadTicket } from './media.schemas.js';
import type { MediaService } from './media.service.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };

/** `/v1/media`: upload tickets, completion, authorized reads and avatar redirects. */
export function registerMediaRoutes(app: HttpApp, deps: { media: MediaService; requireAuth: RequireAuth }): void {
  const { media, requireAuth } = deps;
  const security = [{ bearer: [] }];
  const params = Type.Object({ id: MediaId });

  app.post(
    '/v1/media/uploads',
    {
      onRequest: requireAuth,
      schema: {
        tags: ['media'],
        security,
        summary: 'Start an upload: checks the declared type and size, returns a presigned URL to PUT the bytes to.',
        body: CreateUploadBody,
        response: { 201: UploadTicket, 413: ErrorResponse, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await media.createUpload(authOf(req).userId, req.body)),
  );

  app.post(
    '/v1/media/:id/complete',
    {
      onRequest: requireAuth,
      schema: {
        tags: ['media'],
        security,
        summary: 'Finish an upload (owner only): the server checks the stored size and sniffed type; a mismatch deletes the upload (400/413).',
        params,
        response: { 200: Media, 413: ErrorResponse, ...errors },
      },
    },
    async (req) => media.complete(authOf(req).userId, req.params.id),
  );

  app.get(
    '/v1/media/:id',
    {
      onRequest: requireAuth,
      schema: {
        tags: ['media'],
        security,
        summary: 'Media with short-lived URLs: for the owner, or a member of a conversation it was posted in (others: 404).',
        params,
        response: { 200: Media, ...errors },
      },
    },
    async (req) => media.get(authOf(req).userId, req.params.id),
  );

  // No bearer token: avatars are shown by <img src>, which cannot send one. An avatar is
  // public profile data, and only media its owner set as an avatar is served here.
  app.get(
    '/v1/media/:id/avatar',
    {
      schema: {
        tags: ['media'],
        summary: 'Redirect (302) to a fresh signed URL of an avatar image (its thumbnail unless size=full). No authentication.',
        params,
        querystring: AvatarQuery,
        response: { 404: ErrorResponse },
      },
    },
    async (req, reply) => {
      const { url, maxAgeSeconds } = await media.avatarRedirect(req.params.id, req.query.size ?? 'thumb');
      return reply.header('cache-control', `public, max-age=${maxAgeSeconds}`).redirect(url, 302);
    },
  );
}
