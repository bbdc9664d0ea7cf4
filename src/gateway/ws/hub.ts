/**
 * The hub: every session of this gateway, indexed by user and by auth session, and the
 * topics they hear. The hub is the one place that counts how many sessions hear a topic:
 * it holds exactly one bus subscription per topic (made by the first session, dropped with
 * the last), and fans each payload out, encoded once, to the sessions of that topic.
 */
import type { Bus } from '../../platform/bus/index.js';
import { convTopic, userTopic } from '../../platform/bus/index.js';
import type { Logger } from '../../logger.js';
import type { ControlFrame } from '../../modules/realtime/realtime.js';
import { CLOSE_POLICY, type ClientSession } from './session.js';
import { encodeEvent, type EncodedEvent } from './frame.js';

interface Topic {
  readonly sessions: Set<ClientSession>;
  /** Settles when the bus confirmed the subscription. */
  readonly ready: Promise<void>;
  /** Removes the hub's one handler for this topic from the bus. */
  readonly off: Promise<() => Promise<void>>;
}

/** How long the copies of one presence change are recognised as copies (they arrive once per shared conversation). */
const PRESENCE_DEDUPE_MS = 2000;
const PRESENCE_PREFIX = '{"type":"presence"';

/** The last presence change of a user seen here, and the sessions it was written to. */
interface PresenceSeen {
  payload: string;
  at: number;
  sessions: Set<ClientSession>;
}

export class Hub {
  private readonly sessions = new Set<ClientSession>();
  private readonly byUser = new Map<string, Set<ClientSession>>();
  private readonly bySession = new Map<string, Set<ClientSession>>();
  private readonly topics = new Map<string, Topic>();
  private readonly presenceSeen = new Map<string, PresenceSeen>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {
    this.sweep = setInterval(() => {
      const old = Date.now() - PRESENCE_DEDUPE_MS;
      for (const [u, p] of this.presenceSeen) if (p.at < old) this.presenceSeen.delete(u);
    }, PRESENCE_DEDUPE_MS);
    this.sweep.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): ClientSession[] {
    return [...this.sessions];
  }

  /** Sessions of a user on this gateway (set-up ones included). */
  countOfUser(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /** Sessions opened with the same auth session (device), oldest first. */
  ofAuthSession(sessionId: string): ClientSession[] {
    return [...(this.bySession.get(sessionId) ?? [])];
  }

  add(s: ClientSession): void {
    this.sessions.add(s);
    addTo(this.byUser, s.userId, s);
    addTo(this.bySession, s.sessionId, s);
  }

  /** Forgets a session and leaves every topic it heard. False when it was already gone. */
  remove(s: ClientSession): boolean {
    if (!this.sessions.delete(s)) return false;
    s.closed = true;
    removeFrom(this.byUser, s.userId, s);
    removeFrom(this.bySession, s.sessionId, s);
    for (const t of [...s.topics]) this.leave(s, t);
    return true;
  }

  /** Subscribes the session to its user topic and to each conversation; resolves when the bus confirmed them all. */
  async subscribe(s: ClientSession, conversationIds: readonly string[]): Promise<void> {
    await Promise.all([this.join(s, userTopic(s.userId)), ...conversationIds.map((c) => this.join(s, convTopic(c)))]);
  }

  /** Adds the session to a topic (subscribing the bus for the first one); resolves once the bus confirmed. */
  async join(s: ClientSession, topic: string): Promise<void> {
    if (s.closed || !this.sessions.has(s)) return;
    let t = this.topics.get(topic);
    if (!t) {
      const off = this.bus.subscribe(topic, (payload) => this.deliver(topic, payload));
      const created: Topic = { sessions: new Set(), off, ready: off.then(() => undefined) };
      // A failed SUBSCRIBE forgets the topic, so the next join starts afresh.
      created.ready.catch((err: unknown) => {
        this.logger.warn({ err, topic }, 'subscribe failed');
        if (this.topics.get(topic) === created) {
          this.topics.delete(topic);
          for (const m of created.sessions) m.topics.delete(topic);
        }
      });
      this.topics.set(topic, created);
      t = created;
    }
    t.sessions.add(s);
    s.topics.add(topic);
    await t.ready;
  }

  leave(s: ClientSession, topic: string): void {
    s.topics.delete(topic);
    const t = this.topics.get(topic);
    if (!t || !t.sessions.delete(s) || t.sessions.size > 0) return;
    this.topics.delete(topic);
    t.off.then((off) => off()).catch((err: unknown) => this.logger.debug({ err, topic }, 'unsubscribe failed'));
  }

  /** Topics this hub holds a bus subscription for (tests, diagnostics). */
  topicCount(): number {
    return this.topics.size;
  }

  /** Writes the same bytes to every session (e.g. `sync.required`). */
  broadcast(bytes: Buffer): void {
    const e = encodeEvent(bytes);
    for (const s of this.sessions) s.writeEncoded(e);
  }

  private deliver(topic: string, payload: string): void {
    const t = this.topics.get(topic);
    if (!t || t.sessions.size === 0) return;
    if (payload.startsWith('{"type":"$')) {
      this.control(t, JSON.parse(payload) as ControlFrame);
      return;
    }
    // The hot path: one encode, the same frame to every session of the topic.
    const e = encodeEvent(Buffer.from(payload));
    if (payload.startsWith(PRESENCE_PREFIX)) {
      this.deliverPresence(t, payload, e);
      return;
    }
    for (const s of t.sessions) s.writeEncoded(e);
  }

  /**
   * A presence change is published on each conversation of the user (and their own topic):
   * a contact sharing several conversations hears it once. One publisher sends all copies
   * of a change before the next change, so a different payload means a new change.
   */
  private deliverPresence(t: Topic, payload: string, e: EncodedEvent): void {
    const { userId } = JSON.parse(payload) as { userId: string };
    const now = Date.now();
    let seen = this.presenceSeen.get(userId);
    if (!seen || seen.payload !== payload || seen.at < now - PRESENCE_DEDUPE_MS) {
      seen = { payload, at: now, sessions: new Set() };
      this.presenceSeen.set(userId, seen);
    }
    for (const s of t.sessions) {
      if (seen.sessions.has(s)) continue;
      seen.sessions.add(s);
      s.writeEncoded(e);
    }
  }

  /** Control frames travel on user topics; they change subscriptions or close sessions, never reach clients. */
  private control(t: Topic, ctl: ControlFrame): void {
    for (const s of [...t.sessions]) {
      if (ctl.type === '$join') this.join(s, convTopic(ctl.conversationId)).catch(() => {});
      else if (ctl.type === '$leave') this.leave(s, convTopic(ctl.conversationId));
      else if (ctl.type === '$session.revoked' && s.sessionId === ctl.sessionId) s.close(CLOSE_POLICY, 'session ended');
    }
  }

  close(): void {
    clearInterval(this.sweep);
  }
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let set = m.get(k);
  if (!set) m.set(k, (set = new Set()));
  set.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const set = m.get(k);
  if (!set) return;
  set.delete(v);
  if (set.size === 0) m.delete(k);
}
