import { createContext, useContext, useSyncExternalStore } from 'react';
import type { ChatModel, ChatState } from './model.js';

export const ModelContext = createContext<ChatModel | null>(null);

/** The chat model of the signed-in session. */
export function useModel(): ChatModel {
  const m = useContext(ModelContext);
  if (!m) throw new Error('useModel() outside a signed-in session');
  return m;
}

/** The model's current state; re-renders on every change. */
export function useChat(): ChatState {
  const m = useModel();
  return useSyncExternalStore(m.subscribe, m.getState);
}
