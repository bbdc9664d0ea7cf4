import type { Logger } from '../../logger.js';
import type { PresenceState, PresenceStore } from '../../platform/presence/index.js';
import type { ConversationsRepository } from '../conversations/conversations.repository.js';
import type { Realtime } from '../realtime/realtime.js';

/**
 * Online/offline with last-seen. A user is online while any of their connections lives
 * (on any gateway); changes go to the users who share a conversation with them.
 */
export class PresenceService {
  private reaper: NodeJS.Timeout | undefined;
  /** Called when a user has no live connection left (the calls module leaves their calls after a grace). */
  onOffline: ((userId: string) => void) | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly conversations: ConversationsRepository,
    private readonly realtime: Realtime,
    private readonly ttlSeconds: number,
    private readonly logger: Logger,
  ) {}

  async connected(userId: string, connectionId: string): Promise<void> {
    const { becameOnline } = await this.store.touch(userId, connectionId, this.ttlSeconds);
    if (becameOnline) await this.announce(userId, { status: 'online' });
  }

  /** Renews a live connection; gateways call it well within the TTL. */
  async heartbeat(userId: string, connectionId: string): Promise<void> {
    const { becameOnline } = await this.store.touch(userId, connectionId, this.ttlSeconds);
    if (becameOnline) await this.announce(userId, { status: 'online' });
  }

  async disconnected(userId: string, connectionId: string): Promise<void> {
    const { becameOffline, lastSeenAt } = await this.store.remove(userId, connectionId);
    if (becameOffline) {
      this.onOffline?.(userId);
      await this.announce(userId, { status: 'offline', lastSeenAt });
    }
  }

  /** Presence of the given users, limited to those who share a conversation with the viewer. */
  async visibleTo(viewerId: string, userIds: readonly string[]): Promise<Record<string, PresenceState>> {
    const contacts = new Set(await this.conversations.contactsOf(viewerId));
    contacts.add(viewerId);
    return this.store.get(userIds.filter((u) => contacts.has(u)));
  }

  private async announce(userId: string, state: PresenceState): Promise<void> {
    const contacts = await this.conversations.contactsOf(userId);
    await this.realtime.toUsers([...contacts, userId], { type: 'presence', userId, ...state });
  }

  /** Periodically turns users of dead gateways offline (their heartbeats stopped). */
  startReaper(): void {
    const every = Math.max(250, (this.ttlSeconds * 1000) / 3);
    this.reaper = setInterval(() => {
      this.store
        .reapExpired()
        .then(async (gone) => {
          for (const g of gone) {
            this.onOffline?.(g.userId);
            await this.announce(g.userId, { status: 'offline', lastSeenAt: g.lastSeenAt });
          }
        })
        .catch((err: unknown) => this.logger.warn({ err }, 'presence reaper failed'));
    }, every);
    this.reaper.unref();
  }

  stopReaper(): void {
    if (this.reaper) clearInterval(this.reaper);
  }
}
