/**
 * The pub/sub bus port: fire-and-forget fan-out between processes (Redis PUBLISH in the
 * full stack, in-process in the embedded profile). Nothing here is durable: the message
 * store is the source of truth and clients recover anything dropped by resuming.
 *
 * Topics used by Parley: `conv:<conversationId>` (events every member sees) and
 * `user:<userId>` (events for one user: membership, per-user conversation state,
 * presence of contacts, session revocation).
 */
export type BusHandler = (payload: string) => void;

export interface Bus {
  /** Publishes a payload (already serialized, so fan-out never re-serializes). */
  publish(topic: string, payload: string): Promise<void>;
  /** Publishes the same payload on several topics in one round trip. */
  publishMany(topics: readonly string[], payload: string): Promise<void>;
  /**
   * Subscribes `handler` to `topic`. Adapters reference-count: the underlying
   * subscription is made by the first handler of a topic and dropped with the last.
   * Returns the function that removes this handler.
   */
  subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>>;
  /**
   * Called after the bus lost its connection and came back (subscriptions restored):
   * anything published meanwhile may be lost, so the gateway tells clients to resume.
   */
  onReconnect(listener: () => void): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const convTopic = (conversationId: string): string => `conv:${conversationId}`;
export const userTopic = (userId: string): string => `user:${userId}`;
