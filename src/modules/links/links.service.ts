import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { JobKind } from '../../platform/jobs/jobs.port.js';
import type { MessageStore } from '../../platform/message-store/index.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { Realtime } from '../realtime/realtime.js';
import { GuardError, guardedFetch, type GuardOptions } from './link.guard.js';
import { extractUrls, parsePageMeta } from './link.parse.js';
import type { LinksRepository, PreviewRow } from './links.repository.js';
import type { LinkPreview } from '../../../sdk/types.js';

/**
 * The `links.preview` job. It is an outbox row written by the send statement itself (so a
 * message with links never commits without it), with the payload every send job has: the
 * worker reads the message's links from the stored text.
 */
export interface LinkPreviewJob {
  messageId: string;
  conversationId: string;
}

export const MAX_MESSAGE_IDS = 100;

function toPreview(r: PreviewRow): LinkPreview {
  return { url: r.url, title: r.title, description: r.description, imageUrl: r.image_url, siteName: r.site_name };
}

/**
 * Link previews: a new message's links are queued (`links.preview`), fetched under the
 * SSRF guard, cached per URL, attached to the message, and announced to the conversation
 * with a `link.previews` event; members read them back with `previewsFor`.
 */
export class LinksService {
  constructor(
    private readonly deps: {
      repo: LinksRepository;
      config: Config;
      logger: Logger;
      conversations: ConversationsService;
      realtime: Realtime;
      /** Where the worker reads a message's text. */
      messages: Pick<MessageStore, 'findById'>;
      /** For tests: DNS resolution used by the guard. */
      resolve?: GuardOptions['resolve'];
    },
  ) {}

  get enabled(): boolean {
    return this.deps.config.LINK_PREVIEWS;
  }

  /** The jobs a new message's text needs from this module: a preview when it has links. */
  jobsFor(text: string | null): readonly JobKind[] {
    return this.enabled && extractUrls(text).length > 0 ? ['links.preview'] : [];
  }

  private guardOptions(): GuardOptions {
    const c = this.deps.config;
    return {
      allowHosts: c.LINK_PREVIEW_ALLOW_HOSTS,
      maxBytes: c.LINK_PREVIEW_MAX_BYTES,
      timeoutMs: Math.round(c.LINK_PREVIEW_TIMEOUT * 1000),
      maxRedirects: c.LINK_PREVIEW_MAX_REDIRECTS,
      ...(this.deps.resolve ? { resolve: this.deps.resolve } : {}),
    };
  }

  /** The preview of one URL, from the cache while fresh, else fetched (null: none). */
  async preview(url: string): Promise<LinkPreview | null> {
    const { repo, config, logger } = this.deps;
    const hit = await repo.cached(url);
    if (hit && Date.now() - hit.fetched_at.getTime() < config.LINK_PREVIEW_CACHE_TTL * 1000) return hit.ok ? toPreview(hit) : null;
    try {
      const page = await guardedFetch(url, this.guardOptions());
      const meta = parsePageMeta(page.body.toString('utf8'), page.url);
      if (!meta.title && !meta.description) {
        await repo.saveFailure(url, 'no_metadata');
        return null;
      }
      await repo.saveOk(url, page.url, meta);
      return { url, ...meta };
    } catch (err) {
      const reason = err instanceof GuardError ? err.reason : 'error';
      logger.info({ url, reason, msg: (err as Error).message }, 'no link preview');
      await repo.saveFailure(url, reason);
      return null;
    }
  }

  /** The job: fetch each link, attach the ones with a preview, tell the conversation. */
  async handleJob(job: LinkPreviewJob): Promise<void> {
    if (!this.enabled) return;
    // Deleted (or never a user message) by the time the job runs: nothing to preview.
    const m = await this.deps.messages.findById(job.conversationId, job.messageId);
    if (!m || m.deletedAt || m.kind !== 'user') return;
    const previews: LinkPreview[] = [];
    for (const url of extractUrls(m.text).slice(0, 3)) {
      const p = await this.preview(url);
      if (p) previews.push(p);
    }
    if (previews.length === 0) return;
    await this.deps.repo.attach(job.conversationId, job.messageId, previews.map((p) => p.url));
    await this.deps.realtime.toConversation(job.conversationId, { type: 'link.previews', conversationId: job.conversationId, messageId: job.messageId, previews });
  }

  /** Previews of messages of a conversation (members only: `not_found` otherwise). */
  async previewsFor(userId: string, conversationId: string, messageIds: readonly string[]): Promise<Record<string, LinkPreview[]>> {
    await this.deps.conversations.requireMember(userId, conversationId);
    const out: Record<string, LinkPreview[]> = {};
    for (const r of await this.deps.repo.forMessages(conversationId, messageIds.slice(0, MAX_MESSAGE_IDS))) (out[r.message_id] ??= []).push(toPreview(r));
    return out;
  }
}
