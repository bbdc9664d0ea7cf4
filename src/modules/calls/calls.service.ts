import { AppError, conflict, forbidden, notFound } from '../../errors.js';
import { isId, newId } from '../../ids.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { SqlDatabase } from '../../platform/sql/index.js';
import { isUniqueViolation } from '../../platform/sql/index.js';
import type { KeyValueStore } from '../../platform/kv/index.js';
import type { JobQueue } from '../../platform/jobs/jobs.port.js';
import type { RtcProvider, RtcProviders } from '../../platform/rtc/index.js';
import type { Call, CallCredentials, CallKind, CallProvider } from '../../../sdk/types.js';
import type { Realtime } from '../realtime/realtime.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import { CallsRepository, callView, type CallRow, type EndReason, type ParticipantRow } from './calls.repository.js';
import { decodeKeysetCursor, keysetPage } from '../keyset-cursor.js';

/** What the WebSocket gateway needs to relay `call.signal` frames (injected into it). */
export interface CallSignals {
  signal(userId: string, input: { callId: string; to: string; data: unknown }): Promise<void>;
}

export interface CallWithCredentials {
  call: Call;
  credentials: CallCredentials;
}

/** A change made under the call's row lock; `after` runs once it is committed. */
interface Change {
  /** The call ended in this change (side effects: message, analytics, provider). */
  ended?: boolean;
  /** Publish `call.updated` (default true when anything changed). */
  changed: boolean;
}

const cacheKey = (id: string) => `call:${id}`;

/** "12 min", "45 s", "1 h 5 min": how long a call lasted, for its system message. */
export function durationText(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const min = Math.round(seconds / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

/** The text of a call's system message: "missed audio call", "video call, 12 min". */
export function callSummary(call: Pick<Call, 'kind' | 'endReason' | 'durationSeconds'>): string {
  if (call.endReason === 'missed') return `missed ${call.kind} call`;
  if (call.endReason === 'declined') return `declined ${call.kind} call`;
  return `${call.kind} call, ${durationText(call.durationSeconds ?? 0)}`;
}

export interface CallsServiceDeps {
  db: SqlDatabase;
  kv: KeyValueStore;
  jobs: JobQueue;
  realtime: Realtime;
  conversations: ConversationsService;
  rtc: RtcProviders;
  config: Config;
  logger: Logger;
  /** Which of the users have a live connection on any gateway (presence). */
  onlineOf: (userIds: readonly string[]) => Promise<Set<string>>;
}

/**
 * Calls: one open call per conversation, members only. PostgreSQL keeps the record (calls,
 * who joined when and for how long); the call's current state is cached in the key-value
 * store (Redis) for the hot paths (signal relay, reads). Status changes happen under the
 * call's row lock, so two hang-ups or a hang-up racing the ring timeout end it once.
 */
export class CallsService implements CallSignals {
  readonly repo: CallsRepository;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly offline = new Map<string, NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: CallsServiceDeps) {
    this.repo = new CallsRepository(deps.db);
  }

  private providerFor(kind: CallKind): RtcProvider {
    return kind === 'audio' ? this.deps.rtc.audio : this.deps.rtc.video;
  }

  private providerOf(row: Pick<CallRow, 'provider'>): RtcProvider {
    const p = this.deps.rtc.byName(row.provider);
    if (!p) throw new AppError('unavailable', `The ${row.provider} provider is not configured on this server.`);
    return p;
  }

  // --- reads ------------------------------------------------------------------------------

  /** The call as it is now: from the cache, else from SQL (and cached). */
  private async load(callId: string): Promise<Call | null> {
    if (!isId(callId)) return null;
    const cached = await this.deps.kv.get(cacheKey(callId)).catch(() => null);
    if (cached) return JSON.parse(cached) as Call;
    const row = await this.repo.find(callId);
    if (!row) return null;
    const call = callView(row, await this.repo.participants([row.id]));
    await this.cache(call);
    return call;
  }

  private async cache(call: Call): Promise<void> {
    await this.deps.kv.set(cacheKey(call.id), JSON.stringify(call), this.deps.config.CALLS_STATE_TTL).catch((err: unknown) => this.deps.logger.warn({ err, callId: call.id }, 'could not cache call state'));
  }

  /** The call, if the caller is a member of its conversation; anyone else gets `not_found`. */
  private async requireVisible(userId: string, callId: string): Promise<Call> {
    const call = await this.load(callId);
    if (!call || !(await this.deps.conversations.isMember(userId, call.conversationId))) throw notFound('Call not found.');
    return call;
  }

  /** One call, for a member of its conversation. */
  async get(userId: string, callId: string): Promise<Call> {
    return this.requireVisible(userId, callId);
  }

  /** A conversation's calls, newest first, for its members. */
  async history(userId: string, conversationId: string, opts: { cursor?: string; limit: number }): Promise<{ calls: Call[]; nextCursor: string | null }> {
    await this.deps.conversations.requireMember(userId, conversationId);
    const before = opts.cursor ? decodeKeysetCursor(opts.cursor) : undefined;
    const rows = await this.repo.history(conversationId, opts.limit + 1, before);
    const { page, nextCursor } = keysetPage(rows, opts.limit, (r) => [r.created_at, r.id]);
    const parts = await this.repo.participants(page.map((r) => r.id));
    const calls = page.map((r) => callView(r, parts.filter((p) => p.call_id === r.id)));
    return { calls, nextCursor };
  }

  // --- changes ----------------------------------------------------------------------------

  /**
   * Starts a call in a conversation, or — when one is already open there — joins that one
   * and answers it with `created: false` (200): a second "call" button press never makes a
   * second call.
   */
  async start(userId: string, input: { conversationId: string; kind: CallKind }): Promise<CallWithCredentials & { created: boolean }> {
    await this.deps.conversations.requireMember(userId, input.conversationId);
    const open = await this.repo.openInConversation(input.conversationId);
    if (open) return { ...(await this.join(userId, open.id)), created: false };
    const memberIds = (await this.deps.conversations.members(userId, input.conversationId)).map((m) => m.userId);
    const provider = this.providerFor(input.kind);
    const id = newId();
    // The provider first: if it fails, nothing is written. Its create is get-or-create, so a
    // call that loses the race below leaves nothing that matters behind.
    const { providerCallId } = await provider.createCall({ callId: id, kind: input.kind, createdBy: userId, memberIds });
    try {
      await this.deps.db.transaction(async (tx) => {
        await new CallsRepository(tx).insert({ id, conversation_id: input.conversationId, kind: input.kind, provider: provider.name, provider_call_id: providerCallId, created_by: userId }, memberIds);
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Someone else started one at the same moment: join theirs.
      const winner = await this.repo.openInConversation(input.conversationId);
      if (!winner) throw err;
      return { ...(await this.join(userId, winner.id)), created: false };
    }
    const call = await this.refresh(id);
    this.armRingTimer(call);
    const others = memberIds.filter((u) => u !== userId);
    await this.deps.realtime.toUsers(others, { type: 'call.ringing', call });
    await this.deps.realtime.toConversation(call.conversationId, { type: 'call.updated', call });
    await this.ringOffline(call.id, others);
    return { call, credentials: await provider.credentials({ callId: id, providerCallId, userId }), created: true };
  }

  /** Joins (or re-joins) an open call; an ended call is `conflict`. */
  async join(userId: string, callId: string): Promise<CallWithCredentials> {
    await this.requireVisible(userId, callId);
    const call = await this.mutate(callId, async (repo, row, parts) => {
      if (row.status === 'ended') throw conflict('The call has ended.');
      const now = new Date();
      const me = parts.find((p) => p.user_id === userId);
      if (me?.state === 'joined') return { changed: false };
      if (!me) await repo.addParticipant(callId, userId);
      await repo.setParticipant(callId, userId, { state: 'joined', joinedAt: now, leftAt: null });
      if (row.status === 'ringing' && userId !== row.created_by) await repo.markActive(callId, now);
      return { changed: true };
    });
    const row = await this.repo.find(callId);
    const credentials = await this.providerOf(row!).credentials({ callId, providerCallId: row!.provider_call_id, userId });
    return { call, credentials };
  }

  /** Says no to a ringing call. When everyone asked has declined, the call ends (`declined`). */
  async decline(userId: string, callId: string): Promise<Call> {
    await this.requireVisible(userId, callId);
    return this.mutate(callId, async (repo, row, parts) => {
      if (row.status === 'ended') return { changed: false };
      const me = parts.find((p) => p.user_id === userId);
      if (me?.state === 'joined') throw conflict('You are in this call: leave it instead.');
      if (me?.state === 'declined') return { changed: false };
      if (!me) await repo.addParticipant(callId, userId);
      await repo.setParticipant(callId, userId, { state: 'declined' });
      const others = parts.filter((p) => p.user_id !== row.created_by && p.user_id !== userId);
      if (row.status === 'ringing' && others.every((p) => p.state === 'declined' || p.state === 'left')) {
        await this.finish(repo, row, parts, 'declined');
        return { changed: true, ended: true };
      }
      return { changed: true };
    });
  }

  /** Leaves the call; when fewer than two remain in it, it ends for everyone. */
  async leave(userId: string, callId: string): Promise<Call> {
    await this.requireVisible(userId, callId);
    return this.mutate(callId, async (repo, row, parts) => this.leaveLocked(repo, row, parts, userId, new Date()));
  }

  private async leaveLocked(repo: CallsRepository, row: CallRow, parts: ParticipantRow[], userId: string, at: Date, providerSeconds?: number): Promise<Change> {
    if (row.status === 'ended') return { changed: false };
    const me = parts.find((p) => p.user_id === userId);
    if (!me || me.state !== 'joined') {
      if (me && providerSeconds !== undefined && providerSeconds > me.seconds) await repo.setParticipant(row.id, userId, { state: me.state, seconds: providerSeconds });
      return { changed: false };
    }
    const stretch = Math.max(0, Math.round((at.getTime() - (me.joined_at?.getTime() ?? at.getTime())) / 1000));
    await repo.setParticipant(row.id, userId, { state: 'left', leftAt: at, seconds: Math.max(me.seconds + stretch, providerSeconds ?? 0) });
    me.state = 'left';
    const stillIn = parts.filter((p) => p.state === 'joined').length;
    if (row.status === 'ringing' && userId === row.created_by) {
      await this.finish(repo, row, parts, 'missed', at);
      return { changed: true, ended: true };
    }
    if (row.status === 'active' && stillIn < 2) {
      await this.finish(repo, row, parts, 'completed', at);
      return { changed: true, ended: true };
    }
    return { changed: true };
  }

  /** Ends the call for everyone (any participant who is in it). */
  async end(userId: string, callId: string): Promise<Call> {
    await this.requireVisible(userId, callId);
    return this.mutate(callId, async (repo, row, parts) => {
      if (row.status === 'ended') return { changed: false };
      const me = parts.find((p) => p.user_id === userId);
      if (me?.state !== 'joined' && userId !== row.created_by) throw forbidden('Only someone in the call can end it.');
      await this.finish(repo, row, parts, row.status === 'active' ? 'completed' : 'missed');
      return { changed: true, ended: true };
    });
  }

  /** Closes the record: everyone still in leaves now, the duration is fixed. Under the row lock. */
  private async finish(repo: CallsRepository, row: CallRow, parts: ParticipantRow[], reason: EndReason, at = new Date()): Promise<void> {
    for (const p of parts) {
      if (p.state === 'joined') {
        const stretch = Math.max(0, Math.round((at.getTime() - (p.joined_at?.getTime() ?? at.getTime())) / 1000));
        await repo.setParticipant(row.id, p.user_id, { state: 'left', leftAt: at, seconds: p.seconds + stretch });
      }
    }
    const duration = row.started_at ? Math.max(0, Math.round((at.getTime() - row.started_at.getTime()) / 1000)) : 0;
    await repo.markEnded(row.id, reason === 'completed' && !row.started_at ? 'missed' : reason, at, duration);
  }

  /**
   * Runs `fn` in a transaction holding the call's row lock, then (committed) refreshes the
   * cache, publishes `call.updated`, and for an end: `call.ended`, the system message, the
   * analytics job and the provider's close.
   */
  private async mutate(callId: string, fn: (repo: CallsRepository, row: CallRow, parts: ParticipantRow[]) => Promise<Change>): Promise<Call> {
    const change = await this.deps.db.transaction(async (tx) => {
      const repo = new CallsRepository(tx);
      const row = await repo.lock(callId);
      if (!row) throw notFound('Call not found.');
      return fn(repo, row, await repo.participants([callId]));
    });
    const call = await this.refresh(callId);
    if (change.changed) await this.deps.realtime.toConversation(call.conversationId, { type: 'call.updated', call });
    if (change.ended) await this.afterEnd(call);
    return call;
  }

  /** Re-reads the call from SQL into the cache. */
  private async refresh(callId: string): Promise<Call> {
    const row = await this.repo.find(callId);
    if (!row) throw notFound('Call not found.');
    const call = callView(row, await this.repo.participants([callId]));
    await this.cache(call);
    return call;
  }

  private async afterEnd(call: Call): Promise<void> {
    const { logger } = this.deps;
    clearTimeout(this.timers.get(call.id));
    this.timers.delete(call.id);
    await this.deps.realtime.toConversation(call.conversationId, { type: 'call.ended', call });
    const joined = call.participants.filter((p) => p.joinedAt).map((p) => p.userId);
    try {
      await this.deps.conversations.systemMessage(call.conversationId, call.createdBy, { action: call.endReason === 'completed' ? 'call.ended' : 'call.missed', actorId: call.createdBy, userIds: joined }, callSummary(call));
    } catch (err) {
      logger.warn({ err, callId: call.id }, 'could not write the call system message');
    }
    await this.queueAnalytics(call.id, `ended:${call.id}`);
    const row = await this.repo.find(call.id);
    if (row) {
      await this.providerOf(row)
        .endCall({ callId: row.id, providerCallId: row.provider_call_id })
        .catch((err: unknown) => logger.warn({ err, callId: call.id, provider: row.provider }, 'provider did not take the end of the call'));
    }
  }

  /** Callees with no live connection get a push (notify.call): their phone rings too. */
  private async ringOffline(callId: string, userIds: readonly string[]): Promise<void> {
    try {
      const online = await this.deps.onlineOf(userIds);
      const offline = userIds.filter((u) => !online.has(u));
      if (offline.length === 0) return;
      await this.deps.jobs.enqueue('notify.call', { callId, userIds: offline, ttlSeconds: this.deps.config.CALLS_RING_TIMEOUT }, { id: `notify.call:${callId}` });
    } catch (err) {
      this.deps.logger.warn({ err, callId }, 'could not queue the ring push');
    }
  }

  private async queueAnalytics(callId: string, jobId: string): Promise<void> {
    await this.deps.jobs.enqueue('calls.analytics', { callId }, { id: `calls.analytics:${jobId}` }).catch((err: unknown) => this.deps.logger.warn({ err, callId }, 'could not queue call analytics'));
  }

  // --- signalling (p2p) -------------------------------------------------------------------

  /**
   * Relays a WebRTC offer/answer/ICE candidate from one participant of a call to another.
   * Both must be in the call (joined), the sender a member of its conversation; anything
   * else is `not_found` and nothing is delivered.
   */
  async signal(userId: string, input: { callId: string; to: string; data: unknown }): Promise<void> {
    const size = Buffer.byteLength(JSON.stringify(input.data ?? null));
    if (size > this.deps.config.CALLS_SIGNAL_MAX_BYTES) throw new AppError('payload_too_large', `Signal data is at most ${this.deps.config.CALLS_SIGNAL_MAX_BYTES} bytes.`);
    const call = await this.requireVisible(userId, input.callId);
    const inCall = (u: string) => call.participants.some((p) => p.userId === u && p.state === 'joined');
    if (call.status === 'ended' || input.to === userId || !inCall(userId) || !inCall(input.to)) throw notFound('Call not found.');
    // Someone removed from the conversation mid-call gets nothing more from it.
    if (!(await this.deps.conversations.isMember(input.to, call.conversationId))) throw notFound('Call not found.');
    await this.deps.realtime.toUsers([input.to], { type: 'call.signal', callId: call.id, from: userId, data: input.data });
  }

  // --- participants who vanished ---------------------------------------------------------

  /**
   * A user lost their last connection: if they are still offline after
   * CALLS_OFFLINE_GRACE, they leave every call they are in (a reconnect in time keeps it).
   */
  participantOffline(userId: string): void {
    if (this.offline.has(userId)) return;
    const t = setTimeout(() => {
      this.offline.delete(userId);
      void this.leaveIfStillOffline(userId).catch((err: unknown) => this.deps.logger.warn({ err, userId }, 'could not end the calls of an offline user'));
    }, this.deps.config.CALLS_OFFLINE_GRACE * 1000);
    t.unref();
    this.offline.set(userId, t);
  }

  /** Someone left or was removed from a conversation: they leave its open call, if they are in it. */
  async memberRemoved(conversationId: string, userId: string): Promise<void> {
    const open = await this.repo.openInConversation(conversationId);
    if (!open) return;
    await this.mutate(open.id, async (repo, row, parts) => this.leaveLocked(repo, row, parts, userId, new Date()));
  }

  private async leaveIfStillOffline(userId: string): Promise<void> {
    if ((await this.deps.onlineOf([userId])).has(userId)) return;
    for (const callId of await this.repo.openJoinedBy(userId)) {
      await this.mutate(callId, async (repo, row, parts) => this.leaveLocked(repo, row, parts, userId, new Date()));
    }
  }

  // --- ring timeout -----------------------------------------------------------------------

  private armRingTimer(call: Call): void {
    const ms = this.deps.config.CALLS_RING_TIMEOUT * 1000;
    const t = setTimeout(() => {
      this.timers.delete(call.id);
      void this.expire(call.id).catch((err: unknown) => this.deps.logger.warn({ err, callId: call.id }, 'ring timeout failed'));
    }, ms);
    t.unref();
    this.timers.set(call.id, t);
  }

  /** Ends a call nobody answered in time (`missed`), or one open past CALLS_MAX_DURATION. */
  async expire(callId: string): Promise<void> {
    const { CALLS_RING_TIMEOUT, CALLS_MAX_DURATION } = this.deps.config;
    await this.mutate(callId, async (repo, row, parts) => {
      const age = (Date.now() - row.created_at.getTime()) / 1000;
      if (row.status === 'ringing' && age >= CALLS_RING_TIMEOUT - 0.5) {
        await this.finish(repo, row, parts, 'missed');
        return { changed: true, ended: true };
      }
      if (row.status !== 'ended' && age >= CALLS_MAX_DURATION) {
        await this.finish(repo, row, parts, 'completed');
        return { changed: true, ended: true };
      }
      return { changed: false };
    });
  }

  /**
   * Starts the sweeper that ends overdue calls whose timer was lost (the process that
   * started them stopped). Every API process runs it; the row lock makes each end happen once.
   */
  startSweeper(): void {
    if (this.sweeper) return;
    const every = Math.min(15_000, Math.max(1_000, (this.deps.config.CALLS_RING_TIMEOUT * 1000) / 2));
    this.sweeper = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'call sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, every);
    this.sweeper.unref();
  }

  private async sweep(): Promise<void> {
    const { CALLS_RING_TIMEOUT, CALLS_MAX_DURATION } = this.deps.config;
    for (const id of await this.repo.overdue(CALLS_RING_TIMEOUT, CALLS_MAX_DURATION)) await this.expire(id);
  }

  /** Stops the timers and the sweeper (waiting for a sweep in progress). */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const t of [...this.timers.values(), ...this.offline.values()]) clearTimeout(t);
    this.timers.clear();
    this.offline.clear();
    await this.sweeping;
  }

  // --- provider webhooks ------------------------------------------------------------------

  /**
   * Applies one verified provider event, once per delivery id: a retry or replay of the
   * same id changes nothing. Events for unknown calls are acknowledged and ignored.
   * Resolves what happened, for the webhook's answer and for logs.
   */
  async applyProviderEvent(
    provider: CallProvider,
    ev: { eventId: string; type: string; providerCallId: string; at: Date } & (
      | { action: 'joined'; userId: string }
      | { action: 'left'; userId: string; seconds?: number }
      | { action: 'ended' }
      | { action: 'stats'; stats: unknown }
      | { action: 'none' }
    ),
  ): Promise<'applied' | 'duplicate' | 'unknown_call'> {
    const target = await this.repo.byProviderId(provider, ev.providerCallId);
    let result: 'applied' | 'duplicate' | 'unknown_call' = 'applied';
    if (!target) {
      // Recorded anyway, so that a replay of it is still a duplicate.
      const fresh = await this.repo.claimWebhook(provider, ev.eventId, ev.type, null);
      return fresh ? 'unknown_call' : 'duplicate';
    }
    await this.mutate(target.id, async (repo, row, parts) => {
      if (!(await repo.claimWebhook(provider, ev.eventId, ev.type, row.id))) {
        result = 'duplicate';
        return { changed: false };
      }
      switch (ev.action) {
        case 'joined': {
          const me = parts.find((p) => p.user_id === ev.userId);
          // Late or reordered: a join older than what we know, or for an ended call, changes nothing.
          if (row.status === 'ended' || !me || me.state === 'joined' || (me.left_at && me.left_at >= ev.at)) return { changed: false };
          await repo.setParticipant(row.id, ev.userId, { state: 'joined', joinedAt: ev.at, leftAt: null });
          if (row.status === 'ringing' && ev.userId !== row.created_by) await repo.markActive(row.id, ev.at);
          return { changed: true };
        }
        case 'left': {
          const me = parts.find((p) => p.user_id === ev.userId);
          if (me?.joined_at && me.joined_at > ev.at) return { changed: false };
          return this.leaveLocked(repo, row, parts, ev.userId, ev.at, ev.seconds);
        }
        case 'ended':
          if (row.status === 'ended') return { changed: false };
          await this.finish(repo, row, parts, row.status === 'active' ? 'completed' : 'missed', ev.at > row.created_at ? ev.at : new Date());
          return { changed: true, ended: true };
        case 'stats':
          await repo.storeStats(row.id, ev.stats);
          return { changed: false };
        case 'none':
          return { changed: false };
      }
    });
    if (result === 'applied') await this.queueAnalytics(target.id, `${provider}:${ev.eventId}`);
    return result;
  }
}
