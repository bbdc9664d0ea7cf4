import type { ServerEvent } from '../../../sdk/types.js';
import { convTopic, userTopic, type Bus } from '../../platform/bus/index.js';
import type { Logger } from '../../logger.js';

/**
 * Control frames on `user:<id>` topics that gateways act on (subscribe, unsubscribe,
 * close) rather than forward. They never reach clients.
 */
export type ControlFrame =
  | { type: '$join'; conversationId: string }
  | { type: '$leave'; conversationId: string }
  | { type: '$session.revoked'; sessionId: string };

/**
 * Publishes client events on the bus. Each event is serialized once here; gateways write
 * the same string to every socket that should get it.
 *
 * Publishing never throws: it happens after the change is stored, and the store is the
 * source of truth. If the bus is down, the change is kept and acknowledged, and clients
 * get it by resuming (gateways send `sync.required` when the bus comes back).
 */
export class Realtime {
  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  /** To every connection of every member of a conversation. */
  async toConversation(conversationId: string, event: ServerEvent): Promise<void> {
    await this.bus.publish(convTopic(conversationId), JSON.stringify(event)).catch((err: unknown) => this.dropped(err, event.type));
  }

  /** To every connection of each user. */
  async toUsers(userIds: readonly string[], event: ServerEvent | ControlFrame): Promise<void> {
    if (userIds.length === 0) return;
    await this.bus.publishMany(userIds.map(userTopic), JSON.stringify(event)).catch((err: unknown) => this.dropped(err, event.type));
  }

  /** To every member of each conversation and every connection of each user, in one round trip. */
  async toConversationsAndUsers(conversationIds: readonly string[], userIds: readonly string[], event: ServerEvent): Promise<void> {
    const topics = [...conversationIds.map(convTopic), ...userIds.map(userTopic)];
    if (topics.length === 0) return;
    await this.bus.publishMany(topics, JSON.stringify(event)).catch((err: unknown) => this.dropped(err, event.type));
  }

  private dropped(err: unknown, type: string): void {
    this.logger.warn({ err, type }, 'bus publish failed; clients will catch up by resuming');
  }
}
