/**
 * The presence port: which users have a live connection, with expiry so that the users of
 * a gateway that dies go offline by themselves (Redis in the full stack, in-process in the
 * embedded profile). A user is online while any of their connections is live.
 */
export interface PresenceState {
  status: 'online' | 'offline';
  lastSeenAt?: string;
}

export interface PresenceStore {
  /** Marks a connection live for `ttlSeconds`; `becameOnline` when it is the user's first. */
  touch(userId: string, connectionId: string, ttlSeconds: number): Promise<{ becameOnline: boolean }>;
  /** Removes a connection; `becameOffline` when it was the user's last live one. */
  remove(userId: string, connectionId: string): Promise<{ becameOffline: boolean; lastSeenAt: string }>;
  get(userIds: readonly string[]): Promise<Record<string, PresenceState>>;
  /**
   * Which of `userIds` are online: `get` without the last-seen times, for callers that only
   * ask online-or-not of many users at once (a message's recipients), at half the reads.
   */
  online(userIds: readonly string[]): Promise<Set<string>>;
  /**
   * Users all of whose connections expired (their gateway died), each returned to exactly
   * one caller across processes, and now offline.
   */
  reapExpired(): Promise<{ userId: string; lastSeenAt: string }[]>;
  close(): Promise<void>;
}
