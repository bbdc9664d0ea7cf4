import type { KeyValueStore } from './kv.port.js';

interface Entry {
  value: string;
  expiresAt: number; // ms epoch; Infinity = no expiry
}

/** In-process adapter for the embedded profile: one process only, nothing survives a restart. */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly map = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Expired keys are dropped lazily on read; the sweep bounds memory for keys never read again.
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e && e.expiresAt <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.map) if (e.expiresAt <= t) this.map.delete(k);
  }

  private expiry(ttlSeconds?: number): number {
    return ttlSeconds === undefined ? Infinity : this.now() + ttlSeconds * 1000;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((k) => this.live(k)?.value ?? null);
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    this.map.set(key, { value, expiresAt: this.expiry(ttlSeconds) });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.map.set(key, { value, expiresAt: this.expiry(ttlSeconds) });
    return true;
  }

  async del(key: string): Promise<void> {
    this.map.delete(key);
  }

  async incrWindow(key: string, ttlSeconds: number, by = 1): Promise<{ count: number; ttlMs: number }> {
    let e = this.live(key);
    if (!e) {
      e = { value: '0', expiresAt: this.expiry(ttlSeconds) };
      this.map.set(key, e);
    } else if (e.expiresAt === Infinity) {
      // a counter without a lifetime would never reset: give it the window (as Redis does)
      e.expiresAt = this.expiry(ttlSeconds);
    }
    const count = Number(e.value) + by;
    e.value = String(count);
    return { count, ttlMs: Math.max(0, e.expiresAt - this.now()) };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.map.clear();
  }
}
