import { useSyncExternalStore } from 'react';

/** Phones and touch-only devices: message actions live in a sheet opened by a tap or long-press. */
const QUERY = '(max-width: 720px), (hover: none)';

function subscribe(fn: () => void): () => void {
  const mq = matchMedia(QUERY);
  mq.addEventListener('change', fn);
  return () => mq.removeEventListener('change', fn);
}

export function useTouchLayout(): boolean {
  return useSyncExternalStore(subscribe, () => matchMedia(QUERY).matches, () => false);
}
