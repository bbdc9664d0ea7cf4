import type { Media, Message } from '../../../sdk/types.js';
import type { StoredMessage } from '../../platform/message-store/index.js';

/** Expands attachment media ids into media objects with fresh URLs (the media module provides it). */
export type MediaExpander = (mediaIds: readonly string[]) => Promise<Media[]>;

/** Turns stored messages into the public message shape. */
export class MessageViews {
  constructor(
    private readonly expandMedia: MediaExpander,
    /** Adds fields kept beside the message store (threads). */
    private readonly decorate: (stored: readonly StoredMessage[], views: Message[]) => Promise<void>,
  ) {}

  async one(m: StoredMessage): Promise<Message> {
    return (await this.many([m]))[0]!;
  }

  /**
   * The view of a message this process has just stored: nothing kept beside the store can
   * refer to it yet but what the caller knows (`extra`, e.g. its thread root), so the
   * decoration queries are skipped (they would be round trips on every send).
   */
  async fresh(m: StoredMessage, extra: Partial<Message> = {}): Promise<Message> {
    const media = m.attachments.length ? await this.expandMedia([...new Set(m.attachments)]) : [];
    return { ...this.plain([m], new Map(media.map((x) => [x.id, x])))[0]!, ...extra };
  }

  async many(ms: readonly StoredMessage[]): Promise<Message[]> {
    const ids = [...new Set(ms.flatMap((m) => m.attachments))];
    const media = ids.length ? await this.expandMedia(ids) : [];
    const byId = new Map(media.map((x) => [x.id, x]));
    const out = this.plain(ms, byId);
    await this.decorate(ms, out);
    return out;
  }

  private plain(ms: readonly StoredMessage[], byId: Map<string, Media>): Message[] {
    return ms.map((m) => {
      const out: Message = {
        id: m.id,
        conversationId: m.conversationId,
        seq: m.seq,
        rev: m.rev,
        senderId: m.senderId,
        clientMsgId: m.clientMsgId,
        kind: m.kind,
        text: m.text,
        attachments: m.attachments.map((id) => byId.get(id)).filter((x): x is Media => x !== undefined),
        mentions: m.mentions,
        reactions: m.reactions,
        createdAt: m.createdAt.toISOString(),
      };
      if (m.replyToId) out.replyToId = m.replyToId;
      if (m.system) out.system = m.system as Message['system'];
      if (m.editedAt) out.editedAt = m.editedAt.toISOString();
      if (m.deletedAt) out.deletedAt = m.deletedAt.toISOString();
      return out;
    });
  }
}
