/**
 * Who is notified of a message, and how: the one place that decides (the push, background
 * and email workers all ask it).
 */
export type NotificationLevel = 'all' | 'mentions' | 'none';

/** A member's level when they never chose one: direct conversations `all`, groups `mentions`. */
export function defaultLevel(type: 'direct' | 'group'): NotificationLevel {
  return type === 'direct' ? 'all' : 'mentions';
}

/** What the policy needs to know about one member for one message. */
export interface RecipientState {
  userId: string;
  level: NotificationLevel;
  mutedUntil: Date | null;
  /** The message mentions them (by name, @all or @here). */
  mentioned: boolean;
  /** A live WebSocket connection that is not idle: the WS event is their notification. */
  active: boolean;
  /** Their read position is already at or past the message. */
  read: boolean;
}

/**
 * - `alert`: a visible push (and, later, the missed-messages email if still unread);
 * - `background`: only a silent data push, so an offline app syncs (level `mentions` and
 *   not mentioned);
 * - `none`: nothing (the sender, an active member, already read, level `none`, or muted).
 */
export type Decision = 'alert' | 'background' | 'none';

/** Decides for one recipient of a message sent by `senderId`. */
export function decide(r: RecipientState, senderId: string, now: Date): Decision {
  if (r.userId === senderId || r.active || r.read) return 'none';
  if (r.level === 'none') return 'none';
  if (r.mutedUntil && r.mutedUntil.getTime() > now.getTime()) return 'none';
  if (r.level === 'all' || r.mentioned) return 'alert';
  return 'background';
}

/** What decides a member's answer before any message is looked at (RecipientState without the message's part). */
export type StandingState = Omit<RecipientState, 'mentioned' | 'read'>;

/**
 * Whether `decide` answers `none` for this member whatever the message is (mentioned or not,
 * read or not, sent by anyone else): active, level `none`, or muted. A batch of messages
 * asks this once per member instead of deciding every message for every member (with a room
 * of 100 whose members are all connected, that is the whole decision). Defined through
 * `decide` itself, at the message that notifies most (mentioned, unread), so the two can
 * never disagree: `decide` never notifies less for a message that mentions and is unread.
 */
export function neverNotified(r: StandingState, now: Date): boolean {
  return decide({ ...r, mentioned: true, read: false }, NO_SENDER, now) === 'none';
}

/** No user has an empty id: as the sender, nobody's own message. */
const NO_SENDER = '';
