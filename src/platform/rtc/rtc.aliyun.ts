import { createHash } from 'node:crypto';
import type { CallCredentials } from '../../../sdk/types.js';
import type { RtcProvider } from './rtc.port.js';

export interface AliyunSettings {
  appId: string;
  appKey: string;
  gslb: readonly string[];
  tokenTtlSeconds: number;
}

/** ARTC channel and user ids: up to 64 of `[A-Za-z0-9_-]`. */
export const ARTC_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The ARTC join token: `hex(sha256(appId + appKey + channelId + userId + nonce + timestamp))`. */
export function artcToken(p: { appId: string; appKey: string; channelId: string; userId: string; nonce: string; timestamp: number }): string {
  return createHash('sha256').update(p.appId + p.appKey + p.channelId + p.userId + p.nonce + String(p.timestamp)).digest('hex');
}

/**
 * Aliyun ApsaraVideo RTC (ARTC), new token form: nonce empty, timestamp = the token's
 * expiry. The channel is Parley's call id; nothing is created ahead (ARTC opens a channel
 * when the first user joins), and the channel's Close event (webhook) ends the call.
 */
export class AliyunRtcProvider implements RtcProvider {
  readonly name = 'aliyun' as const;
  constructor(private readonly settings: AliyunSettings) {}

  async createCall(input: { callId: string }): Promise<{ providerCallId: string }> {
    if (!ARTC_ID.test(input.callId)) throw new Error('call id is not a valid ARTC channel id');
    return { providerCallId: input.callId };
  }

  async credentials(input: { providerCallId: string; userId: string }, nowMs = Date.now()): Promise<CallCredentials> {
    if (!ARTC_ID.test(input.userId) || !ARTC_ID.test(input.providerCallId)) throw new Error('user or channel id is not valid for ARTC');
    const timestamp = Math.floor(nowMs / 1000) + Math.round(this.settings.tokenTtlSeconds);
    const p = { appId: this.settings.appId, appKey: this.settings.appKey, channelId: input.providerCallId, userId: input.userId, nonce: '', timestamp };
    return { provider: 'aliyun', appId: p.appId, channelId: p.channelId, userId: p.userId, nonce: '', timestamp, token: artcToken(p), gslb: [...this.settings.gslb] };
  }

  /** ARTC closes the channel when the last user leaves; ending it early needs the OpenAPI (not used). */
  async endCall(): Promise<void> {}
}
