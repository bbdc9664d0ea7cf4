/**
 * The Parley TypeScript SDK: typed REST calls, a self-healing realtime connection, an
 * outbox that delivers every message exactly once, and a small store that keeps a
 * conversation's messages complete and in seq order. Runs in browsers and Node 20.
 *
 *   const client = new ParleyClient({ baseUrl, tokens, WebSocketImpl });
 *   client.on('message.new', ({ message }) => render(message));
 *   await client.connect();
 *   await client.sendMessage(conversationId, { text: 'hello' });
 */
export { ParleyClient, type ClientEventMap, type ParleyClientOptions } from './client.js';
export {
  ParleyError,
  RestClient,
  RETRYABLE_CODES,
  isRetryable,
  type AuthResult,
  type Device,
  type PresenceState,
  type RestOptions,
  type SendMessageBody,
  type TokenPair,
  type Tokens,
  type WebPushSubscription,
} from './rest.js';
export {
  Emitter,
  RealtimeConnection,
  backoffDelay,
  type BackoffOptions,
  type ConnectionState,
  type Listener,
  type ReadyPayload,
  type RealtimeEventMap,
  type RealtimeOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './realtime.js';
export { MemoryOutboxStorage, Outbox, newClientMsgId, type OutboxInput, type OutboxItem, type OutboxOptions, type OutboxStorage, type QueuedSend } from './outbox.js';
export { ChatStore, type ApplyResult } from './store.js';
export type * from './types.js';
