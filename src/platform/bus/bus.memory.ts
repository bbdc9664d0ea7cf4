import type { Bus, BusHandler } from './bus.port.js';

/** In-process bus for the embedded profile (one process). Delivery is asynchronous, like Redis. */
export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Set<BusHandler>>();

  async publish(topic: string, payload: string): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    const snapshot = [...handlers];
    queueMicrotask(() => {
      for (const h of snapshot) h(payload);
    });
  }

  async publishMany(topics: readonly string[], payload: string): Promise<void> {
    for (const t of topics) await this.publish(t, payload);
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(handler);
    return async () => {
      const s = this.topics.get(topic);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) this.topics.delete(topic);
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
