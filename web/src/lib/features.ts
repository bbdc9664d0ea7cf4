/**
 * Client state for the conversation features that live beside the chat model: the set of
 * users the signed-in user blocked (their group messages are collapsed), and the message to
 * highlight when a search result is opened. One store per chat model.
 */
import { useSyncExternalStore } from 'react';
import type { ChatModel } from './model.js';

export interface FeatureState {
  /** Users the signed-in user blocked. */
  blocked: ReadonlySet<string>;
  /** Set when a search result is opened: the conversation view scrolls there and highlights it. */
  focus?: { conversationId: string; messageId: string; seq: number };
}

export class FeatureStore {
  private state: FeatureState = { blocked: new Set() };
  private readonly listeners = new Set<() => void>();

  constructor(private readonly model: ChatModel) {}

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getState = (): FeatureState => this.state;

  private set(patch: Partial<FeatureState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** Loads the block list once per session. */
  async loadBlocks(): Promise<void> {
    const r = await this.model.attempt('Loading blocked users', () => this.model.client.rest.listBlocks());
    if (r) this.set({ blocked: new Set(r.blocks.map((b) => b.user.id)) });
  }

  async setBlocked(userId: string, blocked: boolean): Promise<void> {
    const ok = await this.model.attempt(blocked ? 'Blocking' : 'Unblocking', () => (blocked ? this.model.client.rest.blockUser(userId) : this.model.client.rest.unblockUser(userId)).then(() => true));
    if (!ok) return;
    const next = new Set(this.state.blocked);
    if (blocked) next.add(userId);
    else next.delete(userId);
    this.set({ blocked: next });
  }

  focusMessage(focus: FeatureState['focus']): void {
    this.set(focus ? { focus } : { focus: undefined });
  }
}

const stores = new WeakMap<ChatModel, FeatureStore>();

/** The feature store of a chat model (created, and the block list loaded, on first use). */
export function featuresOf(model: ChatModel): FeatureStore {
  let s = stores.get(model);
  if (!s) {
    s = new FeatureStore(model);
    stores.set(model, s);
    void s.loadBlocks();
  }
  return s;
}

export function useFeatures(model: ChatModel): FeatureState {
  const store = featuresOf(model);
  return useSyncExternalStore(store.subscribe, store.getState);
}
