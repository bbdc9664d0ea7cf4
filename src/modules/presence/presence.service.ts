import type { Logger } from '../../logger.js';
import type { PresenceState, PresenceStore } from '../../platform/presence/index.js';
import type { ConversationsRepository } from '../conversations/conversations.repository.js';
import type { Realtime } from '../realtime/realtime.js';

/** A change waiting for the next flush: the newest state, and what contacts were last told. */
interface PendingChange {
  state: PresenceState;
  /** The status before this tick's first change: a change back to it is no change at all. */
  before: PresenceState['status'];
}

/** Most users announced by one flush (one membership query, one pipelined publish). */
const MAX_BATCH = 1000;

/**
 * Online/offline with last-seen. A user is online while any of their connections lives
 * (on any gateway); only the first connection and the last disconnection are changes (a
 * second device coming online is not announced).
 *
 * Changes are coalesced per user over a short tick (PRESENCE_COALESCE) and then published
 * once per conversation of the user (and on their own topic, for their other devices),
 * not once per contact: members of a conversation are exactly the people allowed to see
 * the user's presence, and a gateway delivers a change once to a contact it reaches
 * through several shared conversations. A reconnect storm thus costs one membership
 * query and one pipelined publish per tick, whatever the number of connections.
 */
export class PresenceService {
  private reaper: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, PendingChange>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: PresenceStore,
    private readonly conversations: ConversationsRepository,
    private readonly realtime: Realtime,
    private readonly ttlSeconds: number,
    private readonly logger: Logger,
    private readonly coalesceMs = 50,
    /** Called when a user has no live connection left (the calls module leaves their calls after a grace). */
    private readonly onOffline?: (userId: string) => void,
  ) {}

  async connected(userId: string, connectionId: string): Promise<void> {
    const { becameOnline } = await this.store.touch(userId, connectionId, this.ttlSeconds);
    if (becameOnline) this.changed(userId, { status: 'online' });
  }

  /** Renews a live connection; gateways call it well within the TTL. */
  async heartbeat(userId: string, connectionId: string): Promise<void> {
    const { becameOnline } = await this.store.touch(userId, connectionId, this.ttlSeconds);
    if (becameOnline) this.changed(userId, { status: 'online' });
  }

  async disconnected(userId: string, connectionId: string): Promise<void> {
    const { becameOffline, lastSeenAt } = await this.store.remove(userId, connectionId);
    if (becameOffline) {
      this.onOffline?.(userId);
      this.changed(userId, { status: 'offline', lastSeenAt });
    }
  }

  /** Presence of the given users, limited to those who share a conversation with the viewer. */
  async visibleTo(viewerId: string, userIds: readonly string[]): Promise<Record<string, PresenceState>> {
    const contacts = new Set(await this.conversations.contactsOf(viewerId));
    contacts.add(viewerId);
    return this.store.get(userIds.filter((u) => contacts.has(u)));
  }

  private changed(userId: string, state: PresenceState): void {
    const prev = this.pending.get(userId);
    this.pending.set(userId, { state, before: prev ? prev.before : state.status === 'online' ? 'offline' : 'online' });
    this.timer ??= setTimeout(() => void this.flush(), this.coalesceMs);
  }

  /** Publishes the pending changes now (also called at shutdown so the last ones go out). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // One flush at a time, in order: a user's later change never overtakes an earlier one.
    this.flushing = this.flushing.then(() => this.publishPending()).catch((err: unknown) => this.logger.warn({ err }, 'presence announcement failed'));
    return this.flushing;
  }

  private async publishPending(): Promise<void> {
    while (this.pending.size > 0) {
      const batch: [string, PresenceState][] = [];
      for (const [userId, p] of this.pending) {
        this.pending.delete(userId);
        if (p.state.status !== p.before) batch.push([userId, p.state]);
        if (batch.length >= MAX_BATCH) break;
      }
      if (batch.length === 0) continue;
      const convs = await this.conversations.conversationIdsOfUsers(batch.map(([u]) => u));
      await Promise.all(batch.map(([userId, state]) => this.realtime.toConversationsAndUsers(convs.get(userId) ?? [], [userId], { type: 'presence', userId, ...state })));
    }
  }

  /** Periodically turns users of dead gateways offline (their heartbeats stopped). */
  startReaper(): void {
    const every = Math.max(250, (this.ttlSeconds * 1000) / 3);
    this.reaper = setInterval(() => {
      this.store
        .reapExpired()
        .then((gone) => {
          for (const g of gone) {
            this.onOffline?.(g.userId);
            this.changed(g.userId, { status: 'offline', lastSeenAt: g.lastSeenAt });
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
