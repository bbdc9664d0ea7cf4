import { invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Device, RegisterDeviceBody } from './devices.schemas.js';
import type { DeviceRow, DevicesRepository } from './devices.repository.js';

/** Push devices of a user: registered by clients, used by the notification worker. */
export class DevicesService {
  constructor(private readonly repo: DevicesRepository) {}

  async register(userId: string, body: RegisterDeviceBody): Promise<Device> {
    let endpointKey: string;
    if (body.platform === 'webpush') {
      if (!body.subscription) throw invalid('subscription is required for webpush devices.');
      if (body.token !== undefined) throw invalid('token is not used for webpush devices; send subscription.');
      endpointKey = body.subscription.endpoint;
    } else {
      if (!body.token) throw invalid(`token is required for ${body.platform} devices.`);
      if (body.subscription !== undefined) throw invalid(`subscription is only for webpush devices.`);
      if (body.platform === 'apns' && !/^[0-9a-fA-F]{64,200}$/.test(body.token)) throw invalid('An APNs device token is hexadecimal.');
      endpointKey = body.token;
    }
    const row = await this.repo.upsert({
      id: newId(),
      userId,
      platform: body.platform,
      token: body.token ?? null,
      subscription: body.subscription ?? null,
      endpointKey,
    });
    return toDevice(row);
  }

  async remove(userId: string, id: string): Promise<void> {
    if (!(await this.repo.deleteOwned(userId, id))) throw notFound('Device not found.');
  }
}

export function toDevice(row: DeviceRow): Device {
  const d: Device = { id: row.id, platform: row.platform, createdAt: row.created_at.toISOString() };
  if (row.token) d.token = row.token;
  if (row.subscription) d.subscription = (typeof row.subscription === 'string' ? JSON.parse(row.subscription) : row.subscription) as Device['subscription'];
  return d;
}
