/** The signed-in session, kept in localStorage: tokens (they rotate) and who they belong to. */
import type { Me, Tokens } from '../../../sdk/index.js';

const KEY = 'parley.session';

export interface StoredSession {
  tokens: Tokens;
  user: Me;
}

export function loadSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<StoredSession>;
    if (!s.tokens?.accessToken || !s.tokens.refreshToken || !s.user?.id) return null;
    return s as StoredSession;
  } catch {
    return null;
  }
}

export function saveSession(s: StoredSession | null): void {
  try {
    if (s) localStorage.setItem(KEY, JSON.stringify(s));
    else localStorage.removeItem(KEY);
  } catch {
    /* storage full or disabled: the session lasts as long as the tab */
  }
}
