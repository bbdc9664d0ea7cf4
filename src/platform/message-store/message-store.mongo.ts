import { MongoClient, MongoServerError, type Collection, type Db, type Filter } from 'mongodb';
import { AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { createdSince, type ChangeScan, type ChangeSnapshot } from '../changes.js';
import { currentSnapshot, scanChanges } from '../sql/change-scan.js';
import { Lanes } from '../batch/lanes.js';
import type { SqlExecutor } from '../sql/sql.port.js';
import type { MessageChange, MessageChangeRow, MessageSearch, MessageStore, NewMessage, StoredMessage } from './message-store.port.js';
import { escapeRegExp, searchTerms } from './search-terms.js';
import { applyChange } from './message-change.js';

/**
 * One message as a MongoDB document. Field names follow `StoredMessage` (`id` is `_id`);
 * dates are BSON dates; absent values are stored as explicit nulls so the document shape
 * never depends on which version of the code wrote it.
 *
 * Reactions are an array of `{emoji, userIds}` rather than an object keyed by emoji: an
 * emoji is user input, and a key containing `.` or starting with `$` is not a safe field
 * name (MongoDB restricts it, FerretDB rejects it). The array also keeps first-reaction order.
 */
interface MessageDoc {
  _id: string;
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
  reactions: { emoji: string; userIds: string[] }[];
  system: { action: string; userIds?: string[]; actorId: string; messageId?: string } | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  updatedAt: Date;
  /**
   * Change numbers of an earlier version (a counter in this database). No longer written or
   * read: change scans read `mongo_message_changes` in SQL (see the class comment).
   */
  change?: number;
  createdChange?: number;
  /**
   * The search terms of a user message's text (`searchTerms`): empty once deleted, replaced
   * on edit. Absent on messages stored before search existed (they are not found).
   */
  searchTerms?: string[];
}

const COLLECTION = 'messages';
/** Marker documents of one-time upgrades (here: the change marks of older messages written to SQL). */
const CHANGES_COLLECTION = 'message_changes';
const MARKS_BACKFILLED = 'sql-marks:v1';
/** Messages per statement when backfilling change marks. */
const MARKS_BACKFILL_BATCH = 1000;
/**
 * FerretDB only: lookup documents keyed by `_id`, the one filter FerretDB 1.24's SQLite
 * handler pushes down to an index (every other query decodes the whole collection in Go).
 * `s:<conversationId>:<seq>` → the message holding that seq; `c:<senderId>:<clientMsgId>` →
 * the message sent with that idempotency key. Written after the message; see `FerretIndex`.
 */
const INDEX_COLLECTION = 'message_index';
/** Marker document: the index has been built for the messages stored before it existed. */
const INDEX_BACKFILLED = 'backfilled:v1';
/** countUnread walks the seq slots when at most this many messages are newer than the read position. */
const UNREAD_WALK_MAX = 20;

/** Index names, also used to tell which unique index a duplicate-key error came from. */
const IDX_SEQ = 'conversation_seq';
const IDX_CLIENT = 'sender_client_msg';
const IDX_UPDATED = 'conversation_updated';
const IDX_SEARCH = 'conversation_search_terms';

/** Tries to insert one message before giving up under contention (then: `unavailable`, retry). */
const MAX_INSERT_ATTEMPTS = 40;
/** Compare-and-set rounds of one change before giving up. */
const MAX_APPLY_ATTEMPTS = 20;
/** Backoff between attempts: full jitter over `min(CAP, BASE * 2^attempt)` ms. */
const BACKOFF_BASE_MS = 2;
const BACKOFF_CAP_MS = 50;
/** Conversations whose last seq this process remembers (a hint, see `insert`). */
const SEQ_HINTS_MAX = 10_000;
/** Parallel queries of one `heads`/`countUnread` call (the pool is shared with everyone else). */
const FANOUT = 8;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const backoff = (attempt: number) => sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));

function toMessage(d: MessageDoc): StoredMessage {
  const reactions: Record<string, string[]> = {};
  for (const r of d.reactions ?? []) reactions[r.emoji] = [...r.userIds];
  return {
    id: d._id,
    conversationId: d.conversationId,
    seq: Number(d.seq),
    rev: Number(d.rev),
    senderId: d.senderId,
    clientMsgId: d.clientMsgId,
    kind: d.kind,
    text: d.text ?? null,
    attachments: d.attachments ?? [],
    replyToId: d.replyToId ?? null,
    mentions: d.mentions ?? [],
    reactions,
    system: toSystem(d.system ?? null),
    createdAt: d.createdAt,
    editedAt: d.editedAt ?? null,
    deletedAt: d.deletedAt ?? null,
    updatedAt: d.updatedAt,
  };
}

/**
 * Copies `system` field by field: `userIds` is optional in the port, and the driver would
 * store an `undefined` property as null (so it must be left out, not set to undefined).
 */
function toSystem(s: StoredMessage['system']): StoredMessage['system'] {
  if (!s) return null;
  const out: NonNullable<StoredMessage['system']> = { action: s.action, actorId: s.actorId };
  if (s.userIds) out.userIds = [...s.userIds];
  if (s.messageId) out.messageId = s.messageId;
  return out;
}

function toReactionList(reactions: Record<string, string[]>): MessageDoc['reactions'] {
  return Object.entries(reactions).map(([emoji, userIds]) => ({ emoji, userIds }));
}

type DuplicateOn = 'seq' | 'client' | 'id' | 'unknown';

/**
 * Which unique index a duplicate-key error (E11000) came from. MongoDB says so in
 * `keyPattern` (and names the index in the message); FerretDB 1.24 says neither (its
 * message is just "E11000 duplicate key error collection: db.messages"), so the caller
 * has to find out by reading (`classifyByReading`).
 */
function duplicateOn(err: MongoServerError): DuplicateOn {
  const keys = err.keyPattern ? Object.keys(err.keyPattern) : [];
  if (keys.includes('seq')) return 'seq';
  if (keys.includes('clientMsgId')) return 'client';
  if (keys.length === 1 && keys[0] === '_id') return 'id';
  const name = /index: (\S+)/.exec(err.message)?.[1];
  if (name === IDX_SEQ) return 'seq';
  if (name === IDX_CLIENT) return 'client';
  if (name === '_id_') return 'id';
  return 'unknown';
}

const isDuplicateKey = (err: unknown): err is MongoServerError => err instanceof MongoServerError && err.code === 11000;

/** A document of `message_index` (FerretDB only). */
interface IndexDoc {
  _id: string;
  /** The message's `_id`. */
  m: string;
}

const seqKey = (conversationId: string, seq: number): string => `s:${conversationId}:${seq}`;
const clientKey = (senderId: string, clientMsgId: string): string => `c:${senderId}:${clientMsgId}`;

/**
 * Messages in MongoDB (or a wire-compatible server such as FerretDB), used when
 * `MONGODB_URL` is set. Designed to need neither transactions nor atomic counters,
 * which FerretDB 1.24 lacks (`$inc` under concurrency loses updates there); the only
 * atomic primitive it relies on is a unique index rejecting a duplicate insert.
 *
 * Seq allocation (optimistic insert): a message is inserted with `seq = last + 1`, and the
 * unique index `(conversationId, seq)` lets exactly one of the concurrent writers of that
 * number win, in any number of processes. A loser re-reads the last seq and tries again
 * after a short jittered backoff, up to a bounded number of attempts (then `unavailable`:
 * the client retries with the same clientMsgId). There are no gaps, because `last` is
 * always the seq of a stored message (a read, our own insert, or the seq a duplicate-key
 * error proved taken), messages are never removed (a delete is a tombstone), and a number
 * is only ever taken by a successful insert. A seq N+1 can only be stored once N is, so a
 * reader that sees N+1 can fetch N.
 *
 * Two things keep the retries few: inserts into one conversation are queued within this
 * process (so only other processes contend with us), and the last seq this process stored
 * or read is kept as a hint, so the usual insert is one round trip and a stale hint costs
 * one conflict and a re-read.
 *
 * On FerretDB (detected at `open` from `buildInfo`), every query but a lookup by `_id` is a
 * scan of the whole collection (the SQLite handler pushes down nothing else; the PostgreSQL
 * handler pushes equality filters but never a sort), so the hot path is answered from
 * `message_index` by `_id` instead: the last seq of a conversation by probing its seq slots
 * upwards from the hint (a gallop, then a binary search: O(log n) lookups when cold, one when
 * the hint is fresh), the head message through its slot, the sender's unread count after a
 * send by walking the few slots past the read position, and the idempotency key by its
 * document. The index is written after the message, so it can lag (a crash between the two
 * writes, or a concurrent insert not yet indexed): a missing slot makes the last seq look
 * lower, which the unique index turns into a conflict and a retry (the slot is then
 * repaired); a missing key document makes `findByClientMsgId` miss, which the unique index
 * `(senderId, clientMsgId)` turns into the same idempotent answer. On MongoDB none of this
 * is used: its indexes answer the queries directly.
 *
 * `updatedAt` comes from this process's clock (`new Date()`), since an insert cannot take
 * the server's time without a second round trip. It never moves backwards for one message
 * (at least the previous value + 1 ms). Sync uses it only for cursors of the old time-based
 * format.
 *
 * Sync scans are exact, as on the SQL store, because their change numbers come from
 * PostgreSQL: after every write of a message here (insert, edit, delete, reaction) the store
 * upserts the message's row in `mongo_message_changes` (SQL, the deployment's database), and
 * that row's `xid` is the transaction of the upsert. A change scan reads those rows with
 * `scanChanges` (snapshot semantics: a mark whose transaction was in progress during a scan
 * is new to the next one, however late it commits) and then the messages by `_id`. The mark
 * commits only after the message was written, so a scan that sees a mark reads the change
 * it marks (or a later one); a scan running between the two writes sees the older mark,
 * already delivered, and the next scan delivers the change. Neither MongoDB without
 * transactions nor FerretDB gives a number and a write in one atomic step, which is why the
 * numbers are not kept here (an earlier version took them from a counter document before
 * the write and had to rescan a band of them, missing a writer later than the band).
 *
 * The one window is a crash (or a lost SQL connection) between the two writes: the message
 * is stored but not marked. For a new message the client's retry (same clientMsgId) finds it
 * and writes the missing mark; a change (edit, delete, reaction) left unmarked is seen by
 * clients that were online (the live event) and by history reads, but not by change scans.
 */
export class MongoMessageStore implements MessageStore {
  private readonly col: Collection<MessageDoc>;
  /** The change counter and the backfill marker. */
  private readonly changes: Collection<{ _id: string; n: number }>;
  /** FerretDB only: lookups by `_id` (see the class comment); null on MongoDB. */
  private readonly index: Collection<IndexDoc> | null;
  /** conversationId → a seq known to be stored; Map order is recency (LRU). */
  private readonly seqHints = new Map<string, number>();
  /** This process's inserts, one conversation at a time. */
  private readonly lanes = new Lanes();

  constructor(
    private readonly client: MongoClient,
    db: Db,
    /** The deployment's SQL database: `mongo_message_changes` (migration 171), the change marks. */
    private readonly sql: SqlExecutor,
    /** The server is FerretDB: answer the hot path from `message_index` (see the class comment). */
    ferret = false,
  ) {
    this.col = db.collection<MessageDoc>(COLLECTION);
    this.changes = db.collection(CHANGES_COLLECTION);
    this.index = ferret ? db.collection<IndexDoc>(INDEX_COLLECTION) : null;
  }

  /**
   * Connects (failing within seconds, not hanging, when the server is unreachable) and
   * creates the indexes; `createIndex` is a no-op for an index that already exists with
   * the same options, so every process can run it at boot.
   */
  static async open(url: string, dbName: string, logger: Logger, sql: SqlExecutor): Promise<MongoMessageStore> {
    const client = new MongoClient(url, {
      appName: 'parley',
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 5_000,
      maxPoolSize: 20,
    });
    try {
      await client.connect();
      const db = client.db(dbName);
      const col = db.collection<MessageDoc>(COLLECTION);
      // One index per command: FerretDB 1.24 panics (and drops the connection) on a
      // multi-index createIndexes when the indexes already exist, i.e. on every boot but the first.
      // history by seq, and the seq allocator's arbiter
      await col.createIndex({ conversationId: 1, seq: 1 }, { name: IDX_SEQ, unique: true });
      // idempotent sends. (On a sharded cluster a unique index must start with the shard
      // key, so sharding by conversationId would need the port's idempotency key to
      // include the conversation.)
      await col.createIndex({ senderId: 1, clientMsgId: 1 }, { name: IDX_CLIENT, unique: true });
      // sync from cursors of the old time-based format: changedSince by updatedAt
      await col.createIndex({ conversationId: 1, updatedAt: 1, _id: 1 }, { name: IDX_UPDATED });
      // search: a term index (multikey) scanned by anchored prefix per conversation. Not a
      // MongoDB $text index: $text has no prefix matching (partial words would not be
      // found, unlike the SQL store) and FerretDB 1.24 does not implement it.
      await col.createIndex({ conversationId: 1, searchTerms: 1 }, { name: IDX_SEARCH });
      const info = await db.admin().command({ buildInfo: 1 });
      const ferret = typeof info.ferretdbVersion === 'string';
      const store = new MongoMessageStore(client, db, sql, ferret);
      await store.backfillMarks();
      if (ferret) await store.backfillIndex();
      logger.info({ database: dbName, ...(ferret ? { ferretdb: info.ferretdbVersion } : {}) }, 'message store: MongoDB');
      return store;
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
  }

  async insert(msg: NewMessage): Promise<{ message: StoredMessage; created: boolean }> {
    // The send path has just looked the key up (MessagesService.send), so no second lookup
    // here: a retry that races past it is caught by the unique index (E11000 on the client key).
    return this.lanes.run(msg.conversationId, () => this.insertWithNextSeq(msg));
  }

  private async insertWithNextSeq(msg: NewMessage): Promise<{ message: StoredMessage; created: boolean }> {
    let last = this.seqHints.get(msg.conversationId) ?? (await this.readLastSeq(msg.conversationId));
    for (let attempt = 0; attempt < MAX_INSERT_ATTEMPTS; attempt++) {
      const now = new Date();
      const doc: MessageDoc = {
        _id: msg.id,
        conversationId: msg.conversationId,
        seq: last + 1,
        rev: 1,
        senderId: msg.senderId,
        clientMsgId: msg.clientMsgId,
        kind: msg.kind,
        text: msg.text,
        attachments: [...msg.attachments],
        replyToId: msg.replyToId,
        mentions: [...msg.mentions],
        reactions: [],
        system: toSystem(msg.system),
        createdAt: now,
        editedAt: null,
        deletedAt: null,
        updatedAt: now,
        searchTerms: msg.kind === 'user' ? searchTerms(msg.text) : [],
      };
      try {
        await this.col.insertOne(doc);
        this.rememberSeq(msg.conversationId, doc.seq);
        await Promise.all([this.indexMessage(doc), this.markInserted(doc._id, doc.conversationId)]);
        return { message: toMessage(doc), created: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        let on = duplicateOn(err);
        let latest: number | undefined;
        if (on === 'unknown' && this.index) on = await this.classifyByIndex(doc);
        if (on === 'unknown') {
          [on, latest] = await this.classifyByReading(msg);
          // FerretDB: the seq was taken but its slot is missing (the index lags): repair it.
          if (on === 'seq' && this.index) await this.repairSlot(msg.conversationId, doc.seq);
        }
        if (on === 'client') {
          // A concurrent retry of this send won; ours took no seq.
          const winner = (await this.findByClientMsgId(msg.senderId, msg.clientMsgId)) ?? (await this.scanByClientMsgId(msg.senderId, msg.clientMsgId));
          if (winner) {
            // Repairs a key document or a change mark lost to a crash between the writes.
            await Promise.all([this.indexMessage(winner), this.markInserted(winner.id, winner.conversationId)]);
            return { message: winner, created: false };
          }
          throw err;
        }
        if (on === 'id') throw err; // the message id is already used by another message: a caller bug
        // Someone else stored seq `last + 1`: it is taken, so it is a safe floor.
        this.rememberSeq(msg.conversationId, doc.seq);
        await backoff(attempt);
        last = Math.max(doc.seq, latest ?? (await this.readLastSeq(msg.conversationId)));
      }
    }
    throw new AppError('unavailable', 'Too many concurrent messages in this conversation; retry.', {
      details: { conversationId: msg.conversationId },
    });
  }

  /**
   * For servers whose duplicate-key errors do not name the index (FerretDB): a document
   * holding our `(senderId, clientMsgId)` or our `_id` explains it; otherwise it was the seq.
   * Also returns the last seq, read at the same time, for the retry.
   */
  private async classifyByReading(msg: NewMessage): Promise<[DuplicateOn, number]> {
    const [clash, last] = await Promise.all([
      this.col.findOne(
        { $or: [{ senderId: msg.senderId, clientMsgId: msg.clientMsgId }, { _id: msg.id }] },
        { projection: { senderId: 1, clientMsgId: 1 } },
      ),
      this.readLastSeq(msg.conversationId),
    ]);
    if (!clash) return ['seq', last];
    return [clash.senderId === msg.senderId && clash.clientMsgId === msg.clientMsgId ? 'client' : 'id', last];
  }

  /**
   * FerretDB: which unique index a duplicate-key error came from, by `_id` lookups only:
   * our key document (client), our message id (id), or the slot of the seq we tried (seq);
   * 'unknown' when the index has not caught up with the winner yet (then: `classifyByReading`).
   */
  private async classifyByIndex(doc: MessageDoc): Promise<DuplicateOn> {
    const [key, sameId, slot] = await Promise.all([
      this.index!.findOne({ _id: clientKey(doc.senderId, doc.clientMsgId) }),
      this.col.findOne({ _id: doc._id }, { projection: { _id: 1 } }),
      this.index!.findOne({ _id: seqKey(doc.conversationId, doc.seq) }),
    ]);
    if (key) return 'client';
    if (sameId) return 'id';
    if (slot) return 'seq';
    return 'unknown';
  }

  private async readLastSeq(conversationId: string): Promise<number> {
    if (this.index) {
      const seq = await this.probeLastSeq(conversationId, this.seqHints.get(conversationId) ?? 0);
      if (seq > 0) this.rememberSeq(conversationId, seq);
      return seq;
    }
    const top = await this.col.find({ conversationId }, { projection: { seq: 1 } }).sort({ seq: -1 }).limit(1).next();
    const seq = top ? Number(top.seq) : 0;
    if (seq > 0) this.rememberSeq(conversationId, seq);
    return seq;
  }

  /** FerretDB: the slot of `seq` (its message id), or null. */
  private async slot(conversationId: string, seq: number): Promise<string | null> {
    const d = await this.index!.findOne({ _id: seqKey(conversationId, seq) });
    return d ? d.m : null;
  }

  /**
   * FerretDB: the highest seq with a slot, searching up from `from` (a seq known to be
   * stored, or 0): gallop (from+1, +2, +4...) to the first missing slot, then binary search
   * between the last present and the first missing one. Seqs are gap-free, so the slots are
   * too, except while the index lags (see the class comment): then this may answer low.
   */
  private async probeLastSeq(conversationId: string, from: number): Promise<number> {
    let lo = from; // present (or 0)
    let step = 1;
    let hi = 0; // first known missing
    for (let i = 0; i < 60; i++) {
      const at = lo + step;
      if (await this.slot(conversationId, at)) {
        lo = at;
        step *= 2;
      } else {
        hi = at;
        break;
      }
    }
    if (hi === 0) return lo;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await this.slot(conversationId, mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** FerretDB: re-creates the index documents of the message holding `seq` (found by a scan: rare). */
  private async repairSlot(conversationId: string, seq: number): Promise<void> {
    const d = await this.col.findOne({ conversationId, seq }, { projection: { _id: 1, conversationId: 1, seq: 1, senderId: 1, clientMsgId: 1 } });
    if (d) await this.indexMessage(d);
  }

  /** FerretDB: writes the slot and key documents of a stored message (both, whichever already exist). */
  private async indexMessage(m: { _id?: string; id?: string; conversationId: string; seq: number; senderId: string; clientMsgId: string }): Promise<void> {
    if (!this.index) return;
    const id = (m._id ?? m.id)!;
    try {
      await this.index.insertMany(
        [
          { _id: seqKey(m.conversationId, m.seq), m: id },
          { _id: clientKey(m.senderId, m.clientMsgId), m: id },
        ],
        { ordered: false },
      );
    } catch {
      // Already there (a repair, or two processes backfilling), or not written: the message
      // is stored either way, and a missing index document only costs a slower path later
      // (see the class comment). Failing the send here would lose its fan-out on the retry.
    }
  }

  /**
   * FerretDB: builds the index for messages stored before it existed (once per database; a
   * few processes doing it at the same time write the same documents).
   */
  async backfillIndex(): Promise<void> {
    if (!this.index || (await this.index.findOne({ _id: INDEX_BACKFILLED }))) return;
    const cursor = this.col.find({}, { projection: { _id: 1, conversationId: 1, seq: 1, senderId: 1, clientMsgId: 1 } });
    for await (const d of cursor) await this.indexMessage(d);
    try {
      await this.index.insertOne({ _id: INDEX_BACKFILLED, m: '' });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** Seqs only grow, so a hint is only ever raised; the least recently used one is evicted. */
  private rememberSeq(conversationId: string, seq: number): void {
    const known = this.seqHints.get(conversationId) ?? 0;
    this.seqHints.delete(conversationId);
    this.seqHints.set(conversationId, Math.max(known, seq));
    if (this.seqHints.size > SEQ_HINTS_MAX) {
      const oldest = this.seqHints.keys().next().value;
      if (oldest !== undefined) this.seqHints.delete(oldest);
    }
  }

  async findById(conversationId: string, messageId: string): Promise<StoredMessage | null> {
    // By `_id` alone (the one filter FerretDB's SQLite handler pushes down), then the conversation checked here.
    const d = await this.col.findOne({ _id: messageId });
    return d && d.conversationId === conversationId ? toMessage(d) : null;
  }

  async findByIds(conversationId: string, messageIds: readonly string[]): Promise<StoredMessage[]> {
    // One `findOne` by `_id` each, at once: FerretDB pushes an `_id` equality down to its
    // backend, but not an `$in` (that would scan the collection).
    const found = await Promise.all([...new Set(messageIds)].map((id) => this.findById(conversationId, id)));
    return found.filter((m): m is StoredMessage => m !== null);
  }

  async findByClientMsgId(senderId: string, clientMsgId: string): Promise<StoredMessage | null> {
    if (!this.index) return this.scanByClientMsgId(senderId, clientMsgId);
    // FerretDB: through the key document. A miss may be a key not written yet; the unique
    // index on (senderId, clientMsgId) still rejects the duplicate insert (see insert).
    const key = await this.index.findOne({ _id: clientKey(senderId, clientMsgId) });
    if (!key) return null;
    const d = await this.col.findOne({ _id: key.m });
    return d && d.senderId === senderId && d.clientMsgId === clientMsgId ? toMessage(d) : null;
  }

  /** By the (senderId, clientMsgId) index on MongoDB; a scan of the collection on FerretDB. */
  private async scanByClientMsgId(senderId: string, clientMsgId: string): Promise<StoredMessage | null> {
    const d = await this.col.findOne({ senderId, clientMsgId });
    return d ? toMessage(d) : null;
  }

  async list(conversationId: string, opts: { beforeSeq?: number; afterSeq?: number; limit: number }): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    const seq: { $gt?: number; $lt?: number } = {};
    if (opts.afterSeq !== undefined) seq.$gt = opts.afterSeq;
    if (opts.beforeSeq !== undefined) seq.$lt = opts.beforeSeq;
    const filter: Filter<MessageDoc> = { conversationId };
    if (opts.afterSeq !== undefined || opts.beforeSeq !== undefined) filter.seq = seq;
    // "after" pages forward from the cursor; otherwise the newest page (before the cursor).
    const dir = opts.afterSeq !== undefined ? 1 : -1;
    const docs = await this.col.find(filter).sort({ seq: dir }).limit(opts.limit + 1).toArray();
    const hasMore = docs.length > opts.limit;
    const page = docs.slice(0, opts.limit).map(toMessage);
    if (dir === -1) page.reverse();
    return { messages: page, hasMore };
  }

  /**
   * Read, compute with the shared `applyChange`, then compare-and-set on `rev`: the update
   * only matches if nobody changed the message since we read it; otherwise re-read and
   * recompute (bounded). On MongoDB a single-document update is atomic, so two concurrent
   * changes cannot both match the same rev. On FerretDB 1.24 it is NOT: its updates are a
   * read then a write without isolation (measured: of 20 concurrent CAS updates on one
   * document, 8 matched), so concurrent changes to the SAME message may lose one of them
   * there; changes to different messages, and sequential changes, are unaffected.
   */
  async apply(conversationId: string, messageId: string, change: MessageChange): Promise<{ message: StoredMessage; changed: boolean } | null> {
    for (let attempt = 0; attempt < MAX_APPLY_ATTEMPTS; attempt++) {
      const current = await this.findById(conversationId, messageId);
      if (!current) return null;
      const next = applyChange(current, change);
      if (!next) {
        // Nothing to change, perhaps because this is the retry of a change whose mark failed
        // after its MongoDB write: mark it again (at worst a sync resends it, same rev).
        await this.markChanged(messageId, conversationId);
        return { message: current, changed: false };
      }
      const rev = current.rev + 1;
      // Never before the previous change, even if this host's clock is behind the last writer's.
      const updatedAt = new Date(Math.max(Date.now(), current.updatedAt.getTime() + 1));
      const res = await this.col.updateOne(
        { _id: messageId, conversationId, rev: current.rev },
        {
          $set: {
            rev,
            updatedAt,
            text: next.text,
            attachments: next.attachments,
            mentions: next.mentions,
            reactions: toReactionList(next.reactions),
            editedAt: next.editedAt,
            deletedAt: next.deletedAt,
            searchTerms: next.kind === 'user' && !next.deletedAt ? searchTerms(next.text) : [],
          },
        },
      );
      if (res.matchedCount === 1) {
        await this.markChanged(messageId, conversationId);
        return { message: { ...next, rev, updatedAt }, changed: true };
      }
      await backoff(attempt);
    }
    throw new AppError('unavailable', 'Too many concurrent changes to this message; retry.', { details: { conversationId, messageId } });
  }

  /**
   * One `find ... sort seq desc limit 1` per conversation: on MongoDB each is a single
   * index seek. (An aggregation with `$sort`+`$group`/`$first` would be one round trip, but
   * FerretDB 1.24 does not implement `$first`, and `$group`/`$max` scans every message.)
   */
  async heads(conversationIds: readonly string[]): Promise<Map<string, { lastSeq: number; lastMessage: StoredMessage | null }>> {
    const out = new Map<string, { lastSeq: number; lastMessage: StoredMessage | null }>();
    await fanOut([...new Set(conversationIds)], async (conversationId) => {
      if (this.index) {
        const last = await this.readLastSeq(conversationId);
        const id = last > 0 ? await this.slot(conversationId, last) : null;
        const d = id ? await this.col.findOne({ _id: id }) : null;
        if (d) out.set(conversationId, { lastSeq: Number(d.seq), lastMessage: toMessage(d) });
        return;
      }
      const d = await this.col.find({ conversationId }).sort({ seq: -1 }).limit(1).next();
      if (d) out.set(conversationId, { lastSeq: Number(d.seq), lastMessage: toMessage(d) });
    });
    return out;
  }

  async countUnread(userId: string, positions: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await fanOut(positions, async (p) => {
      if (this.index) {
        // FerretDB: walk the few messages past the read position by their slots (none, right after a send).
        const last = await this.readLastSeq(p.conversationId);
        if (last - p.afterSeq <= UNREAD_WALK_MAX) {
          let n = 0;
          for (let seq = p.afterSeq + 1; seq <= last; seq++) {
            const id = await this.slot(p.conversationId, seq);
            const d = id ? await this.col.findOne({ _id: id }, { projection: { kind: 1, deletedAt: 1, senderId: 1 } }) : null;
            if (d && d.kind === 'user' && d.deletedAt == null && d.senderId !== userId) n += 1;
          }
          out.set(p.conversationId, n);
          return;
        }
      }
      const n = await this.col.countDocuments({
        conversationId: p.conversationId,
        seq: { $gt: p.afterSeq },
        kind: 'user',
        deletedAt: null,
        senderId: { $ne: userId },
      });
      out.set(p.conversationId, n);
    });
    return out;
  }

  /**
   * A change scan over the change marks in SQL (see the class comment), then the marked
   * messages by `_id`, in the marks' (change, id) order.
   */
  async changedSince(conversationIds: readonly string[], scan: ChangeScan, limit: number): Promise<{ changes: MessageChangeRow[]; snapshot: ChangeSnapshot }> {
    for (let attempt = 0; ; attempt++) {
      const { rows, snapshot } = await scanChanges<{ message_id: string; created_xid: string }>(this.sql, {
        table: 'mongo_message_changes',
        cols: { xid: 'xid', at: 'changed_at', id: 'message_id', idType: 'text' },
        select: 'message_id, created_xid::text AS created_xid',
        where: 'conversation_id = ANY($1::text[])',
        params: [conversationIds],
        scan,
        limit,
      });
      if (rows.length === 0) return { changes: [], snapshot };
      const ids = [...new Set(rows.map((r) => r.message_id))];
      const docs = new Map<string, MessageDoc>();
      if (this.index) {
        // FerretDB pushes down an `_id` equality, not an `$in`: lookups one by one, a few at a time.
        await fanOut(ids, async (id) => {
          const d = await this.col.findOne({ _id: id });
          if (d) docs.set(id, d);
        });
      } else {
        for (const d of await this.col.find({ _id: { $in: ids } }).toArray()) docs.set(d._id, d);
      }
      // A mark always follows its message (marks are written after the write), and messages
      // are never removed; a mark without one means its document was deleted by hand. The
      // caller pages by how many changes come back, so one cannot just be left out: the
      // orphans are removed and the page read again.
      const orphans = ids.filter((id) => !docs.has(id));
      if (orphans.length > 0 && attempt < 3) {
        await this.sql.query('DELETE FROM mongo_message_changes WHERE message_id = ANY($1::text[])', [orphans]);
        continue;
      }
      if (orphans.length > 0) throw new AppError('unavailable', 'Message changes are being repaired; retry.');
      const { from } = scan;
      const changes = rows.map((r) => {
        const d = docs.get(r.message_id)!;
        return {
          message: toMessage(d),
          change: BigInt(r.change),
          isNew: createdSince(from, BigInt(r.created_xid), d.createdAt),
        };
      });
      return { changes, snapshot };
    }
  }

  changeSnapshot(): Promise<ChangeSnapshot> {
    return currentSnapshot(this.sql);
  }

  /** The change mark of a new message (a second one, from a retry that repairs it, is a no-op). */
  private async markInserted(messageId: string, conversationId: string): Promise<void> {
    await this.sql.query('INSERT INTO mongo_message_changes (message_id, conversation_id) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING', [messageId, conversationId]);
  }

  /** A message changed: its mark takes this transaction's number (and is created if a crash lost it). */
  private async markChanged(messageId: string, conversationId: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO mongo_message_changes (message_id, conversation_id) VALUES ($1, $2)
       ON CONFLICT (message_id) DO UPDATE SET xid = pg_current_xact_id(), changed_at = now()`,
      [messageId, conversationId],
    );
  }

  /**
   * Marks the messages stored before change marks existed, once per database, in batches,
   * each mark with the backfill's own transaction and the message's last-change time (for
   * cursors of the old time-based format). So a cursor handed out before the upgrade (its
   * numbers came from the old counter, not from PostgreSQL) gets every older message again,
   * once, as new: a heavy first sync for such a client, but nothing skipped; clients apply
   * message events by id and rev. A process writing a message while another backfills also
   * loses nothing: whichever mark lands, it is not visible to a scan that ran before it.
   * Several processes may backfill at once (ON CONFLICT DO NOTHING); an interrupted run
   * starts over. Every process must run this version before messages are written again:
   * a process of the earlier version writes no marks.
   */
  private async backfillMarks(): Promise<void> {
    if (await this.changes.findOne({ _id: MARKS_BACKFILLED })) return;
    const cursor = this.col.find({}, { projection: { _id: 1, conversationId: 1, updatedAt: 1 } }).batchSize(MARKS_BACKFILL_BATCH);
    let batch: { _id: string; conversationId: string; updatedAt: Date }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.sql.query(
        `INSERT INTO mongo_message_changes (message_id, conversation_id, changed_at)
         SELECT m, c, t FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(m, c, t)
         ON CONFLICT (message_id) DO NOTHING`,
        [batch.map((d) => d._id), batch.map((d) => d.conversationId), batch.map((d) => d.updatedAt)],
      );
      batch = [];
    };
    for await (const d of cursor) {
      batch.push(d as { _id: string; conversationId: string; updatedAt: Date });
      if (batch.length >= MARKS_BACKFILL_BATCH) await flush();
    }
    await flush();
    try {
      await this.changes.insertOne({ _id: MARKS_BACKFILLED, n: 0 });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** Every term as an anchored prefix on the term index; newest first by (createdAt, _id). */
  async search(q: MessageSearch): Promise<StoredMessage[]> {
    if (q.conversationIds.length === 0 || q.terms.length === 0) return [];
    const and: Filter<MessageDoc>[] = q.terms.map((t) => ({ searchTerms: { $regex: `^${escapeRegExp(t)}` } }));
    if (q.olderThan) and.push({ $or: [{ createdAt: { $lt: q.olderThan.at } }, { createdAt: q.olderThan.at, _id: { $lt: q.olderThan.id } }] });
    const created: { $lt?: Date; $gt?: Date } = {};
    if (q.before) created.$lt = q.before;
    if (q.after) created.$gt = q.after;
    if (q.before || q.after) and.push({ createdAt: created });
    if (q.hasAttachment) and.push({ 'attachments.0': { $exists: true } });
    const filter: Filter<MessageDoc> = { conversationId: { $in: [...q.conversationIds] }, kind: 'user', deletedAt: null, $and: and };
    if (q.senderId !== undefined) filter.senderId = q.senderId;
    const docs = await this.col.find(filter).sort({ createdAt: -1, _id: -1 }).limit(q.limit).toArray();
    return docs.map(toMessage);
  }

  async ping(): Promise<void> {
    await this.client.db('admin').command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Runs `fn` over `items` with at most FANOUT in flight. */
async function fanOut<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(FANOUT, items.length) }, worker));
}
