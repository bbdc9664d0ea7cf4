/**
 * The message store port: messages and their per-conversation counters (MongoDB in the
 * full stack, the SQL database otherwise). It is the source of truth for what clients
 * see: `seq` orders messages, `rev` orders the changes of one message (clients keep the
 * highest rev they saw of each message), a change number (src/platform/changes.ts) drives sync.
 *
 * Every adapter passes `message-store.contract.ts`.
 */
import type { ChangeScan, ChangeSnapshot } from '../changes.js';

/** A message as stored (attachments are media ids; the service expands them). */
export interface StoredMessage {
  id: string;
  conversationId: string;
  seq: number;
  rev: number;
  senderId: string;
  clientMsgId: string;
  kind: 'user' | 'system';
  text: string | null;
  attachments: string[];
  replyToId: string | null;
  mentions: string[];
  reactions: Record<string, string[]>;
  /** For system messages; `messageId` names the message a pin/unpin is about. */
  system: { action: string; userIds?: string[]; actorId: string; messageId?: string } | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  /** When the last change was stored (store clock); sync scans by change number, and by this only for old cursors. */
  updatedAt: Date;
}

/** One change of a change scan: the message as it is now, its change number, and whether the message itself is new since the scan's `from`. */
export interface MessageChangeRow {
  message: StoredMessage;
  change: bigint;
  isNew: boolean;
}

export type NewMessage = Omit<StoredMessage, 'seq' | 'rev' | 'reactions' | 'createdAt' | 'editedAt' | 'deletedAt' | 'updatedAt'>;

export type MessageChange =
  | { kind: 'edit'; text: string; mentions: string[] }
  | { kind: 'delete' }
  | { kind: 'reaction'; emoji: string; userId: string; add: boolean };

/**
 * A message search: user messages (never system, never deleted) of these conversations
 * in which every term is the prefix of a word (terms from `searchTerms`), newest first.
 */
export interface MessageSearch {
  conversationIds: readonly string[];
  /** Lowercased terms (1 or more); each must start a word of the text. */
  terms: readonly string[];
  senderId?: string;
  /** Created strictly before / after. */
  before?: Date;
  after?: Date;
  /** Only messages with at least one attachment. */
  hasAttachment?: boolean;
  /** Keyset: only messages strictly older than (createdAt to the millisecond, id). */
  olderThan?: { at: Date; id: string };
  limit: number;
}

export interface MessageStore {
  /**
   * True for the store that keeps messages in the SQL database (its `messages` and
   * `message_counters` tables): then a user send inserts the message in the same statement
   * as the rest of the send (src/modules/messages/send.repository.ts), atomically. Other
   * stores leave it unset: the send inserts through `insert`, then commits its SQL rows
   * idempotently, so a retry completes what a failure left out.
   */
  readonly inSqlDatabase?: boolean;
  /**
   * Stores a new message with the conversation's next `seq` (strictly increasing, no gaps,
   * correct under concurrent senders in several processes). Idempotent by
   * `(senderId, clientMsgId)`: if that pair exists, returns the stored one, `created: false`.
   */
  insert(msg: NewMessage): Promise<{ message: StoredMessage; created: boolean }>;
  findById(conversationId: string, messageId: string): Promise<StoredMessage | null>;
  /** Messages of one conversation by id, in no particular order; ids not found (or of another conversation) are left out. */
  findByIds(conversationId: string, messageIds: readonly string[]): Promise<StoredMessage[]>;
  findByClientMsgId(senderId: string, clientMsgId: string): Promise<StoredMessage | null>;
  /** Messages by seq: newest page by default; ascending order in the result. */
  list(conversationId: string, opts: { beforeSeq?: number; afterSeq?: number; limit: number }): Promise<{ messages: StoredMessage[]; hasMore: boolean }>;
  /**
   * Applies a change and bumps `rev` and `updatedAt`. Returns null when the message does
   * not exist, or `{message, changed: false}` when the change is a no-op (a reaction
   * already there, a second delete).
   */
  apply(conversationId: string, messageId: string, change: MessageChange): Promise<{ message: StoredMessage; changed: boolean } | null>;
  /** The newest message and counters of each conversation. */
  heads(conversationIds: readonly string[]): Promise<Map<string, { lastSeq: number; lastMessage: StoredMessage | null }>>;
  /** Unread user messages from others after `afterSeq`, per conversation (not deleted). */
  countUnread(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>>;
  /**
   * One page of the messages of these conversations changed since a position: a change
   * scan (src/platform/changes.ts) in change-number order, at most `limit` changes, with
   * the snapshot the page was read under. Both stores are exact: no change is skipped,
   * however late its transaction commits, and none is delivered twice (the MongoDB store
   * keeps its change sequence in SQL; its class comment gives the one crash window).
   */
  changedSince(conversationIds: readonly string[], scan: ChangeScan, limit: number): Promise<{ changes: MessageChangeRow[]; snapshot: ChangeSnapshot }>;
  /** The store's current change snapshot: a position that has seen every change stored so far. */
  changeSnapshot(): Promise<ChangeSnapshot>;
  /**
   * Full-text search (`MessageSearch`): ordered by (createdAt to the millisecond, id)
   * descending, so `olderThan` pages without skips. Kept exact on edit and delete.
   */
  search(q: MessageSearch): Promise<StoredMessage[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
