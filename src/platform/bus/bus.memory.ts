import type { Logger } from '../../logger.js';
import type { Bus, BusHandler } from './bus.port.js';

/** One subscribe() call: an object of its own, so the same function subscribed twice counts twice. */
interface Subscription {
  readonly handler: BusHandler;
}

/** In-process bus for the embedded profile (one process). Delivery is asynchronous, like Redis. */
export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Set<Subscription>>();

  constructor(private readonly logger?: Logger) {}

  async publish(topic: string, payload: string): Promise<void> {
    const subs = this.topics.get(topic);
    if (!subs) return;
    const snapshot = [...subs];
    queueMicrotask(() => {
      for (const s of snapshot) {
        if (!subs.has(s)) continue; // removed since the publish, as with Redis
        try {
          s.handler(payload);
        } catch (err) {
          // A throw here would escape the microtask and crash the process; like the Redis
          // bus, one faulty handler must not starve the others.
          this.logger?.error({ err, topic }, 'bus handler threw');
        }
      }
    });
  }

  async publishMany(topics: readonly string[], payload: string): Promise<void> {
    for (const t of topics) await this.publish(t, payload);
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    const sub: Subscription = { handler };
    set.add(sub);
    const owner = set;
    return async () => {
      if (!owner.delete(sub)) return;
      if (owner.size === 0 && this.topics.get(topic) === owner) this.topics.delete(topic);
    };
  }

  /** Topics with at least one handler (tests check reference counting). */
  activeTopics(): string[] {
    return [...this.topics.keys()];
  }

  onReconnect(): void {
    // never disconnects
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.topics.clear();
  }
}
