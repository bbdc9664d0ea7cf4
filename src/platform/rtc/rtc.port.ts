/**
 * The RTC provider port: who carries a call's media. Parley keeps the call record and its
 * status; an adapter creates the call on the provider's side, hands out the credentials a
 * client joins with, and closes it. Adapters: GetStream Video, Aliyun ARTC, and p2p
 * (browser-to-browser WebRTC signalled over Parley's own WebSocket).
 */
import type { CallCredentials, CallKind, CallProvider } from '../../../sdk/types.js';

export interface RtcCallInput {
  /** Parley's call id (32 hex characters: valid as a GetStream call id and an ARTC channel id). */
  callId: string;
  kind: CallKind;
  createdBy: string;
  /** Every member the call is for, the caller included. */
  memberIds: readonly string[];
}

export interface RtcProvider {
  readonly name: CallProvider;
  /** Creates (or gets: idempotent) the call on the provider; returns the provider's id for it. */
  createCall(input: RtcCallInput): Promise<{ providerCallId: string }>;
  /** Credentials for `userId` to join the call. */
  credentials(input: { callId: string; providerCallId: string; userId: string }): Promise<CallCredentials>;
  /** Tells the provider the call is over (best effort is the caller's choice). */
  endCall(input: { callId: string; providerCallId: string }): Promise<void>;
}

/** The provider for each kind of call, chosen once at boot. */
export interface RtcProviders {
  audio: RtcProvider;
  video: RtcProvider;
  /** By name, for webhooks and for calls created under an earlier configuration. */
  byName(name: CallProvider): RtcProvider | undefined;
}
