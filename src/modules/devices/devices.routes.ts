import { Type } from 'typebox';
import { notFound } from '../../errors.js';
import { ErrorResponse, authOf, type HttpApp, type RequireAuth } from '../../gateway/http.js';
import { Id } from '../users/users.schemas.js';
import { Device, RegisterDeviceBody } from './devices.schemas.js';
import type { DevicesService } from './devices.service.js';

/** `/v1/me/devices`: push registration. */
export function registerDevicesRoutes(app: HttpApp, deps: { devices: DevicesService; requireAuth: RequireAuth; vapidPublicKey: string }): void {
  const security = [{ bearer: [] }];
  app.get(
    '/v1/push/vapid-public-key',
    {
      schema: {
        tags: ['devices'],
        summary: 'The VAPID public key browsers subscribe to Web Push with; 404 when Web Push is not configured.',
        response: { 200: Type.Object({ publicKey: Type.String() }), 404: ErrorResponse },
      },
    },
    async () => {
      if (!deps.vapidPublicKey) throw notFound('Web Push is not configured on this server.');
      return { publicKey: deps.vapidPublicKey };
    },
  );
  app.post(
    '/v1/me/devices',
    {
      onRequest: deps.requireAuth,
      schema: { tags: ['devices'], security, body: RegisterDeviceBody, response: { 201: Device, 400: ErrorResponse, 401: ErrorResponse } },
    },
    async (req, reply) => reply.status(201).send(await deps.devices.register(authOf(req).userId, req.body)),
  );
  app.delete(
    '/v1/me/devices/:id',
    {
      onRequest: deps.requireAuth,
      schema: { tags: ['devices'], security, params: Type.Object({ id: Id }), response: { 204: Type.Null(), 401: ErrorResponse, 404: ErrorResponse } },
    },
    async (req, reply) => {
      await deps.devices.remove(authOf(req).userId, req.params.id);
      return reply.status(204).send(null);
    },
  );
}
