import { invalid } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { MessageStore, StoredMessage } from '../../platform/message-store/index.js';
import type { PresenceStore } from '../../platform/presence/index.js';
import type { Mailer } from '../../platform/mail/index.js';
import { PushRetryableError, type PushMessage, type PushPlatform, type PushSender, type PushTarget } from '../../platform/push/index.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { DevicesRepository } from '../devices/devices.repository.js';
import type { UsersRepository } from '../users/users.repository.js';
import type { ActivityService } from './activity.service.js';
import { alertPush, backgroundPush, truncate } from './notifications.content.js';
import { renderDigest, type DigestSection } from './notifications.digest.js';
import type { SignedLinks } from './notifications.links.js';
import { decide, defaultLevel, neverNotified, type NotificationLevel, type StandingState } from './notifications.policy.js';
import type { NotificationsRepository, PrefsRow } from './notifications.repository.js';
import { TickBatcher } from '../../platform/batch/tick-batcher.js';

/** What the send path queues for every stored message. */
export interface MessageJobPayload {
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
}

/**
 * Runs `work` for each named step of a job that no earlier attempt completed (see
 * jobSteps in src/workers); rejects with the first failure after all were tried.
 */
export type StepRunner = (names: readonly string[], work: (name: string) => Promise<void>) => Promise<void>;

/** What a push job did: the devices it addressed (each one a step) and how many of them took the push. */
export interface PushTally {
  devices: number;
  sent: number;
}

const NO_PUSH: PushTally = { devices: 0, sent: 0 };

export interface ConversationNotificationSettings {
  level: NotificationLevel;
  mutedUntil: string | null;
  /** true while the member never chose: `level` is the conversation type's default. */
  isDefault: boolean;
}

export interface UserNotificationPrefs {
  email: boolean;
  emailDelaySeconds: number;
  pushPreview: boolean;
}

export interface NotificationsDeps {
  repo: NotificationsRepository;
  conversations: ConversationsService;
  store: MessageStore;
  users: UsersRepository;
  devices: DevicesRepository;
  presence: PresenceStore;
  activity: ActivityService;
  senders: Record<PushPlatform, PushSender>;
  mailer: Mailer;
  links: SignedLinks;
  config: Config;
  logger: Logger;
  /** Base URL links in emails point to. */
  publicBaseUrl: () => string;
}

/** What `decisions` answers for one message. */
export interface MessageDecisions {
  message: StoredMessage;
  conversation: { id: string; type: 'direct' | 'group'; title: string | null };
  /** The members decided `alert`, and `background` (every other member: `none`): what the push, email and background jobs each act on. */
  alerted: string[];
  background: string[];
}

/** A member some message of a batch could notify, with what the policy needs of them (see neverNotified). */
type Recipient = StandingState & { lastReadSeq: number };

/** A conversation and the members a message of it may notify (null: the conversation is gone). */
type Audience = Awaited<ReturnType<NotificationsRepository['audience']>>;

const NOBODY: ReadonlySet<string> = new Set();

/**
 * How long one message's decisions are reused by its other jobs. They are a snapshot of
 * the members' state either way; reusing it for two seconds treats the three jobs as if
 * they had run at the same moment (which they nearly do), and saves two reads of the
 * message, the members and their presence per message (with a room of 100, some 600
 * Redis commands and 6 queries). A job retried more than two seconds later decides afresh.
 */
const DECISION_REUSE_MS = 2_000;
const DECISION_REUSE_MAX = 2_000;

const DIGEST_MAX_CONVERSATIONS = 10;
const DIGEST_MAX_MESSAGES = 10;
const DIGEST_LEASE_SECONDS = 300;
const UNSUBSCRIBE = 'unsubscribe-email';

/**
 * Notifications: members' settings, the per-recipient decision for each message, and the
 * deliveries it leads to (pushes to devices, silent syncs, the missed-messages email).
 * The workers call these methods; the REST routes call the settings ones.
 */
export class NotificationsService {
  /** Recent answers of `decisions`, by message id, oldest first. */
  private readonly recent = new Map<string, { at: number; conversationId: string; answer: Promise<MessageDecisions | null> }>();

  /**
   * Decides the messages whose first job came in the same turn of the event loop together
   * (`deciding`): under load a busy conversation's messages arrive in bursts, and they
   * share one read of the conversation's members, one read of the messages and one presence
   * and activity lookup for all their recipients (with a room of 100 that was most of the
   * worker's work per message).
   */
  private readonly deciding = new TickBatcher<MessageJobPayload, MessageDecisions | null | Error>((ps) => this.decideMany(ps), 200);

  constructor(private readonly d: NotificationsDeps) {}

  // ---- settings ----

  async conversationSettings(userId: string, conversationId: string): Promise<ConversationNotificationSettings> {
    const m = await this.d.conversations.requireMember(userId, conversationId);
    const s = await this.d.repo.setting(conversationId, userId);
    if (!s) return { level: defaultLevel(m.type), mutedUntil: null, isDefault: true };
    return { level: s.level, mutedUntil: s.muted_until ? s.muted_until.toISOString() : null, isDefault: false };
  }

  async putConversationSettings(userId: string, conversationId: string, body: { level: NotificationLevel; mutedUntil?: string | null }): Promise<ConversationNotificationSettings> {
    await this.d.conversations.requireMember(userId, conversationId);
    let muted: Date | null = null;
    if (body.mutedUntil) {
      muted = new Date(body.mutedUntil);
      if (Number.isNaN(muted.getTime()) || muted.getUTCFullYear() > 9999) throw invalid('mutedUntil must be an ISO-8601 time.');
    }
    await this.d.repo.putSetting(conversationId, userId, { level: body.level, muted_until: muted });
    return this.conversationSettings(userId, conversationId);
  }

  private prefsOf(row: PrefsRow | undefined): UserNotificationPrefs {
    return {
      email: row?.email_enabled ?? true,
      emailDelaySeconds: row?.email_delay_seconds ?? Math.round(this.d.config.EMAIL_DIGEST_DELAY),
      pushPreview: row?.push_preview ?? true,
    };
  }

  async prefs(userId: string): Promise<UserNotificationPrefs> {
    return this.prefsOf((await this.d.repo.prefs([userId])).get(userId));
  }

  async patchPrefs(userId: string, patch: Partial<UserNotificationPrefs>): Promise<UserNotificationPrefs> {
    const row = (await this.d.repo.prefs([userId])).get(userId);
    const cur = this.prefsOf(row);
    const next: PrefsRow = {
      email_enabled: patch.email ?? cur.email,
      email_delay_seconds: patch.emailDelaySeconds ?? row?.email_delay_seconds ?? null,
      push_preview: patch.pushPreview ?? cur.pushPreview,
    };
    await this.d.repo.putPrefs(userId, next);
    return this.prefsOf(next);
  }

  /** The one-click unsubscribe URL of a user (signed; no login needed). */
  unsubscribeUrl(userId: string): string {
    return `${this.d.publicBaseUrl()}/v1/notifications/unsubscribe?u=${encodeURIComponent(userId)}&sig=${this.d.links.sign(UNSUBSCRIBE, userId)}`;
  }

  /** Turns email off for the user a signed link names; false when the signature is wrong. */
  async unsubscribe(userId: string, sig: string): Promise<boolean> {
    if (!this.d.links.verify(UNSUBSCRIBE, userId, sig)) return false;
    if (!(await this.d.repo.userEmail(userId))) return false;
    await this.patchPrefs(userId, { email: false });
    return true;
  }

  // ---- the decision ----

  /**
   * Who of the message's conversation is alerted and who gets a background push (everyone
   * else: nothing; both lists may be empty), or null when there is nothing to decide: every
   * member is active, muted or at level none (the sender aside), or the message is gone,
   * deleted, or a system message.
   */
  async decisions(p: MessageJobPayload): Promise<MessageDecisions | null> {
    // The push, background and email jobs of one message all ask, within milliseconds of
    // each other: they share one answer (see DECISION_REUSE_MS).
    const now = Date.now();
    const hit = this.recent.get(p.messageId);
    if (hit && now - hit.at < DECISION_REUSE_MS && hit.conversationId === p.conversationId) return hit.answer;
    const answer = this.decide(p);
    this.recent.delete(p.messageId); // re-inserted at the end: the map stays in age order
    this.recent.set(p.messageId, { at: now, conversationId: p.conversationId, answer });
    answer.catch(() => {
      if (this.recent.get(p.messageId)?.answer === answer) this.recent.delete(p.messageId);
    });
    if (this.recent.size > DECISION_REUSE_MAX) {
      // Oldest first: drop what expired, and more if a burst left too many fresh ones.
      for (const [k, v] of this.recent) {
        if (now - v.at < DECISION_REUSE_MS && this.recent.size <= DECISION_REUSE_MAX / 2) break;
        this.recent.delete(k);
      }
    }
    return answer;
  }

  private async decide(p: MessageJobPayload): Promise<MessageDecisions | null> {
    const r = await this.deciding.add(p);
    if (r instanceof Error) throw r;
    return r;
  }

  /**
   * The decisions for a batch of messages. A conversation whose messages or audience cannot
   * be read fails only its own messages' jobs (an Error in their places); the others go on.
   */
  private async decideMany(ps: MessageJobPayload[]): Promise<(MessageDecisions | null | Error)[]> {
    const byConversation = new Map<string, string[]>();
    for (const p of ps) {
      const ids = byConversation.get(p.conversationId);
      if (ids) ids.push(p.messageId);
      else byConversation.set(p.conversationId, [p.messageId]);
    }
    const failure = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
    // 1. Each conversation's audience; 2. the presence and activity of all their members at once.
    const audiences = new Map<string, Audience | Error>(
      await Promise.all([...byConversation.keys()].map(async (conversationId) => [conversationId, await Promise.resolve().then(() => this.d.repo.audience(conversationId)).catch(failure)] as const)),
    );
    const everyone = new Set<string>();
    for (const a of audiences.values()) if (a && !(a instanceof Error)) for (const r of a.recipients) everyone.add(r.user_id);
    const ids = [...everyone];
    const [online, active] = await Promise.all([this.d.presence.online(ids), this.d.activity.active(ids)]);
    const now = new Date();
    // 3. Per conversation, the members some message could notify, and only if there are
    // any, its messages (they may live in another database: MongoDB). Most members of a busy
    // conversation are connected and active: then its messages are not even read.
    type Decidable = { audience: NonNullable<Audience>; members: Recipient[]; messages: Map<string, StoredMessage> };
    const decidable = new Map<string, Decidable | null | Error>(
      await Promise.all(
        [...byConversation].map(async ([conversationId, messageIds]): Promise<[string, Decidable | null | Error]> => {
          const audience = audiences.get(conversationId)!;
          if (!audience || audience instanceof Error) return [conversationId, audience];
          const members: Recipient[] = [];
          for (const r of audience.recipients) {
            const standing = { userId: r.user_id, level: r.level ?? defaultLevel(audience.conversation.type), mutedUntil: r.muted_until, active: online.has(r.user_id) && active.has(r.user_id) };
            if (!neverNotified(standing, now)) members.push({ ...standing, lastReadSeq: r.last_read_seq });
          }
          if (members.length === 0) return [conversationId, null];
          try {
            const messages = await this.d.store.findByIds(conversationId, messageIds);
            return [conversationId, { audience, members, messages: new Map(messages.map((m) => [m.id, m])) }];
          } catch (err) {
            return [conversationId, failure(err)];
          }
        }),
      ),
    );
    // 4. Each message: its members' answers.
    return ps.map((p) => {
      const c = decidable.get(p.conversationId)!;
      if (!c || c instanceof Error) return c;
      const message = c.messages.get(p.messageId);
      if (!message || message.deletedAt || message.kind !== 'user') return null;
      const alerted: string[] = [];
      const background: string[] = [];
      const mentioned = message.mentions.length > 0 ? new Set(message.mentions) : NOBODY;
      for (const r of c.members) {
        if (r.userId === message.senderId) continue;
        const d = decide({ ...r, mentioned: mentioned.has(r.userId), read: r.lastReadSeq >= message.seq }, message.senderId, now);
        if (d === 'alert') alerted.push(r.userId);
        else if (d === 'background') background.push(r.userId);
      }
      return { message, conversation: c.audience.conversation, alerted, background };
    });
  }


  /** The user's total unread count over every conversation (the badge). */
  async badge(userId: string): Promise<number> {
    const counts = await this.d.store.countUnread(userId, await this.d.repo.positions(userId));
    let n = 0;
    for (const v of counts.values()) n += v;
    return n;
  }

  // ---- deliveries ----

  /** `notify.push`: a visible push to every device of each member the policy says `alert` for. */
  async deliverAlerts(p: MessageJobPayload, step: StepRunner): Promise<PushTally> {
    const d = await this.decisions(p);
    if (!d) return NO_PUSH;
    const userIds = d.alerted;
    if (userIds.length === 0) return NO_PUSH;
    const conv = d.conversation;
    const [sender] = await this.d.users.findByIds([d.message.senderId]);
    const prefs = await this.d.repo.prefs(userIds);
    const messages = new Map<string, PushMessage>();
    const badges = await Promise.all(userIds.map((u) => this.badge(u)));
    for (const [i, u] of userIds.entries()) {
      messages.set(
        u,
        alertPush({
          senderName: sender?.display_name ?? 'Someone',
          conversation: conv,
          message: { id: d.message.id, seq: d.message.seq, text: d.message.text, attachmentCount: d.message.attachments.length },
          preview: this.d.config.PUSH_SHOW_TEXT && this.prefsOf(prefs.get(u)).pushPreview,
          badge: badges[i]!,
        }),
      );
    }
    return this.pushToDevices(userIds, (u) => messages.get(u)!, ['fcm', 'apns', 'webpush'], step);
  }

  /** `notify.background`: a silent push to the mobile devices of members who get no alert but should sync. */
  async deliverBackground(p: MessageJobPayload, step: StepRunner): Promise<PushTally> {
    const d = await this.decisions(p);
    if (!d) return NO_PUSH;
    const userIds = d.background;
    if (userIds.length === 0) return NO_PUSH;
    const push = backgroundPush(p.conversationId, p.messageId, d.message.seq);
    return this.pushToDevices(userIds, () => push, ['fcm', 'apns'], step);
  }

  /**
   * `notify.call`: a visible push of a ringing call to every device of `userIds` (the
   * callees who had no live connection when it started). Content comes from the caller.
   */
  async deliverCallRing(userIds: string[], push: PushMessage, step: StepRunner): Promise<PushTally> {
    if (userIds.length === 0) return NO_PUSH;
    return this.pushToDevices(userIds, () => push, ['fcm', 'apns', 'webpush'], step);
  }

  /**
   * Sends to every device of `userIds` on `platforms`, one step per device (a retry
   * repeats only the devices that failed). Dead tokens are deleted; a device whose
   * provider kept failing makes the whole call throw after the others were tried.
   */
  private async pushToDevices(userIds: string[], messageFor: (userId: string) => PushMessage, platforms: PushPlatform[], steps: StepRunner): Promise<PushTally> {
    const devices = new Map((await this.d.devices.listForUsers(userIds)).filter((x) => platforms.includes(x.platform)).map((x) => [`device:${x.id}`, x]));
    let sent = 0;
    await steps([...devices.keys()], async (name) => {
      const dev = devices.get(name)!;
      const target: PushTarget = { deviceId: dev.id, platform: dev.platform };
      if (dev.token) target.token = dev.token;
      if (dev.subscription) target.subscription = (typeof dev.subscription === 'string' ? JSON.parse(dev.subscription) : dev.subscription) as NonNullable<PushTarget['subscription']>;
      let r;
      try {
        r = await this.d.senders[dev.platform].send(target, messageFor(dev.user_id));
      } catch (err) {
        if (err instanceof PushRetryableError) this.d.logger.warn({ deviceId: dev.id, platform: dev.platform, err: err.message }, 'push provider unavailable: the job will retry');
        throw err;
      }
      if (r.outcome === 'sent') sent++;
      else if (r.outcome === 'gone') {
        await this.d.devices.deleteById(dev.id);
        this.d.logger.info({ deviceId: dev.id, platform: dev.platform, status: r.status, reason: r.reason }, 'push token gone: device removed');
      } else this.d.logger.warn({ deviceId: dev.id, platform: dev.platform, status: r.status, reason: r.reason }, 'push rejected by the provider (not retried)');
    });
    return { devices: devices.size, sent };
  }

  /** `notify.email`: arms the missed-messages digest of each member who was alerted (batched: one pending digest per user). */
  async scheduleEmails(p: MessageJobPayload): Promise<number> {
    const d = await this.decisions(p);
    if (!d) return 0;
    const userIds = d.alerted;
    if (userIds.length === 0) return 0;
    const prefs = await this.d.repo.prefs(userIds);
    const due: { userId: string; dueAt: Date }[] = [];
    for (const u of userIds) {
      const pr = this.prefsOf(prefs.get(u));
      if (pr.email) due.push({ userId: u, dueAt: new Date(Date.now() + pr.emailDelaySeconds * 1000) });
    }
    await this.d.repo.scheduleDigests(due);
    return due.length;
  }

  /** Sends the digests that are due (called periodically by every worker; leases keep them single). Returns how many were sent. */
  async sendDueDigests(limit = 20): Promise<number> {
    const leaseId = newId();
    const users = await this.d.repo.leaseDueDigests(leaseId, limit, DIGEST_LEASE_SECONDS);
    let sent = 0;
    for (const u of users) {
      try {
        if (await this.sendDigest(u)) sent++;
        await this.d.repo.finishDigest(u, leaseId);
      } catch (err) {
        // The lease expires and a worker tries again.
        this.d.logger.warn({ err, userId: u }, 'missed-messages email failed; will retry');
      }
    }
    return sent;
  }

  /** Builds and sends one user's digest of everything unread and not yet emailed; false when there is nothing. */
  async sendDigest(userId: string): Promise<boolean> {
    const prefs = await this.prefs(userId);
    const user = await this.d.repo.userEmail(userId);
    if (!prefs.email || !user) return false;
    const now = new Date();
    const sections: DigestSection[] = [];
    const marks: { conversationId: string; seq: number }[] = [];
    const senderIds = new Set<string>();
    const picked: { c: { id: string; name: string }; msgs: StoredMessage[]; more: boolean }[] = [];
    for (const c of await this.d.repo.digestConversations(userId)) {
      if (picked.length >= DIGEST_MAX_CONVERSATIONS) break;
      const level = c.level ?? defaultLevel(c.type);
      if (level === 'none' || (c.muted_until && c.muted_until > now)) continue;
      const after = Math.max(c.last_read_seq, c.emailed_seq ?? 0);
      const page = await this.d.store.list(c.conversation_id, { afterSeq: after, limit: DIGEST_MAX_MESSAGES });
      if (page.messages.length === 0) continue;
      marks.push({ conversationId: c.conversation_id, seq: page.messages[page.messages.length - 1]!.seq });
      const msgs = page.messages.filter((m) => m.kind === 'user' && !m.deletedAt && m.senderId !== userId && (level === 'all' || m.mentions.includes(userId)));
      if (msgs.length === 0) continue;
      msgs.forEach((m) => senderIds.add(m.senderId));
      const name = c.type === 'group' ? c.title || 'Group' : c.peer_name || 'Direct message';
      picked.push({ c: { id: c.conversation_id, name }, msgs, more: page.hasMore });
    }
    if (picked.length === 0) {
      for (const m of marks) await this.d.repo.markEmailed(userId, m.conversationId, m.seq);
      return false;
    }
    const names = new Map((await this.d.users.findByIds([...senderIds])).map((u) => [u.id, u.display_name]));
    const base = this.d.publicBaseUrl();
    for (const p of picked) {
      sections.push({
        conversationName: p.c.name,
        url: `${base}/c/${p.c.id}`,
        messages: p.msgs.map((m) => ({
          sender: names.get(m.senderId) ?? 'Someone',
          text: m.text ? truncate(m.text, 500) : `(${m.attachments.length} attachment${m.attachments.length === 1 ? '' : 's'})`,
          at: m.createdAt,
        })),
        more: p.more,
      });
    }
    const unsubscribeUrl = this.unsubscribeUrl(userId);
    const mail = renderDigest({ recipientName: user.display_name, sections, appUrl: base, unsubscribeUrl });
    await this.d.mailer.send({
      to: user.email,
      ...mail,
      headers: { 'List-Unsubscribe': `<${unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    });
    for (const m of marks) await this.d.repo.markEmailed(userId, m.conversationId, m.seq);
    return true;
  }
}
