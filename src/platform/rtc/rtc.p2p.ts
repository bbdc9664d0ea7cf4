import { createHmac } from 'node:crypto';
import type { CallCredentials, IceServer } from '../../../sdk/types.js';
import type { RtcProvider } from './rtc.port.js';

export interface P2pSettings {
  stunUrls: readonly string[];
  turnUrls: readonly string[];
  /** coturn `static-auth-secret`. */
  turnSecret: string;
  turnTtlSeconds: number;
}

/**
 * TURN credentials in coturn's `use-auth-secret` (TURN REST API) form: username
 * `expiry:userId` (expiry in Unix seconds), password `base64(HMAC-SHA1(secret, username))`.
 * coturn recomputes the password from the username and refuses it once expired.
 */
export function turnCredentials(secret: string, userId: string, ttlSeconds: number, nowMs = Date.now()): { username: string; credential: string } {
  const username = `${Math.floor(nowMs / 1000) + Math.round(ttlSeconds)}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/**
 * Built-in WebRTC: nothing to create on a provider; the browsers connect to each other with
 * `call.signal` frames relayed by Parley, using the STUN/TURN servers from configuration.
 */
export class P2pRtcProvider implements RtcProvider {
  readonly name = 'p2p' as const;
  constructor(private readonly settings: P2pSettings) {}

  async createCall(input: { callId: string }): Promise<{ providerCallId: string }> {
    return { providerCallId: input.callId };
  }

  async credentials(input: { userId: string }): Promise<CallCredentials> {
    const iceServers: IceServer[] = [];
    if (this.settings.stunUrls.length) iceServers.push({ urls: [...this.settings.stunUrls] });
    if (this.settings.turnUrls.length && this.settings.turnSecret) {
      iceServers.push({ urls: [...this.settings.turnUrls], ...turnCredentials(this.settings.turnSecret, input.userId, this.settings.turnTtlSeconds) });
    }
    return { provider: 'p2p', iceServers };
  }

  async endCall(): Promise<void> {}
}
