import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { AppError } from '../../errors.js';
import type { CallCredentials } from '../../../sdk/types.js';
import type { RtcCallInput, RtcProvider } from './rtc.port.js';

export interface GetStreamSettings {
  apiKey: string;
  apiSecret: string;
  /** e.g. https://video.stream-io-api.com (no trailing slash needed). */
  baseUrl: string;
  callType: string;
  tokenTtlSeconds: number;
  /** Per request; a provider that does not answer is `unavailable`, not a hung request. */
  timeoutMs?: number;
}

/** `hex(HMAC-SHA256(secret, body))` compared in constant time, as GetStream signs webhooks (X-Signature). */
export function verifyGetStreamSignature(secret: string, body: Buffer, signature: string | undefined): boolean {
  if (!signature || !/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/**
 * GetStream Video over its REST API, as the official `stream-node` SDK calls it: a server
 * JWT (`{server: true}`, HS256, no iat) in `Authorization` without "Bearer",
 * `stream-auth-type: jwt`, and `api_key` in the query. Calls are get-or-create, so a retry
 * after a lost answer is harmless.
 */
export class GetStreamRtcProvider implements RtcProvider {
  readonly name = 'getstream' as const;
  private readonly key: Uint8Array;
  private serverToken: Promise<string> | undefined;

  constructor(private readonly settings: GetStreamSettings) {
    this.key = new TextEncoder().encode(settings.apiSecret);
  }

  /** The server token never expires; it is signed once. */
  private server(): Promise<string> {
    return (this.serverToken ??= new SignJWT({ server: true }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(this.key));
  }

  /** A user token for one call: `{user_id, iat, exp, call_cids}`, iat a second in the past like the SDK. */
  async userToken(userId: string, callCid: string, nowMs = Date.now()): Promise<string> {
    const iat = Math.floor(nowMs / 1000) - 1;
    return new SignJWT({ user_id: userId, call_cids: [callCid] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + Math.round(this.settings.tokenTtlSeconds))
      .sign(this.key);
  }

  private async request(method: string, path: string, body: unknown): Promise<unknown> {
    const url = `${this.settings.baseUrl.replace(/\/+$/, '')}${path}?api_key=${encodeURIComponent(this.settings.apiKey)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: await this.server(),
          'stream-auth-type': 'jwt',
          'content-type': 'application/json',
          'x-stream-client': 'parley',
          'x-client-request-id': randomUUID(),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.settings.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new AppError('unavailable', 'GetStream did not answer.', { cause: err });
    }
    const text = await res.text();
    if (!res.ok) throw new AppError('unavailable', `GetStream answered ${res.status}.`, { details: { body: text.slice(0, 500) } });
    try {
      return text ? JSON.parse(text) : {};
    } catch (err) {
      throw new AppError('unavailable', 'GetStream answered with something that is not JSON.', { cause: err });
    }
  }

  private cid(callId: string): string {
    return `${this.settings.callType}:${callId}`;
  }

  async createCall(input: RtcCallInput): Promise<{ providerCallId: string }> {
    const users = Object.fromEntries(input.memberIds.map((id) => [id, { id }]));
    await this.request('POST', '/api/v2/users', { users });
    const path = `/api/v2/video/call/${encodeURIComponent(this.settings.callType)}/${encodeURIComponent(input.callId)}`;
    await this.request('POST', path, {
      data: {
        created_by_id: input.createdBy,
        members: input.memberIds.map((user_id) => ({ user_id })),
        custom: { parley: true, kind: input.kind },
      },
    });
    return { providerCallId: this.cid(input.callId) };
  }

  async credentials(input: { callId: string; providerCallId: string; userId: string }): Promise<CallCredentials> {
    return {
      provider: 'getstream',
      apiKey: this.settings.apiKey,
      token: await this.userToken(input.userId, input.providerCallId),
      callType: this.settings.callType,
      callId: input.callId,
      userId: input.userId,
      baseUrl: this.settings.baseUrl,
    };
  }

  async endCall(input: { callId: string }): Promise<void> {
    await this.request('POST', `/api/v2/video/call/${encodeURIComponent(this.settings.callType)}/${encodeURIComponent(input.callId)}/mark_ended`, {});
  }
}
