import type { SqlExecutor } from '../../platform/sql/sql.port.js';
import type { PageMeta } from './link.parse.js';

export interface PreviewRow {
  url: string;
  ok: boolean;
  final_url: string | null;
  title: string | null;
  description: string | null;
  image_url: string | null;
  site_name: string | null;
  error: string | null;
  fetched_at: Date;
}

/** Link previews: the per-URL cache and the links attached to each message. */
export class LinksRepository {
  constructor(private readonly sql: SqlExecutor) {}

  async cached(url: string): Promise<PreviewRow | null> {
    const r = await this.sql.query<PreviewRow>('SELECT * FROM link_previews WHERE url = $1', [url]);
    return r.rows[0] ?? null;
  }

  async saveOk(url: string, finalUrl: string, meta: PageMeta): Promise<void> {
    await this.sql.query(
      `INSERT INTO link_previews (url, ok, final_url, title, description, image_url, site_name, error, fetched_at)
       VALUES ($1, true, $2, $3, $4, $5, $6, NULL, now())
       ON CONFLICT (url) DO UPDATE SET ok = true, final_url = $2, title = $3, description = $4, image_url = $5, site_name = $6, error = NULL, fetched_at = now()`,
      [url, finalUrl, meta.title, meta.description, meta.imageUrl, meta.siteName],
    );
  }

  async saveFailure(url: string, error: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO link_previews (url, ok, error, fetched_at) VALUES ($1, false, $2, now())
       ON CONFLICT (url) DO UPDATE SET ok = false, error = $2, fetched_at = now()`,
      [url, error],
    );
  }

  /** Attaches `urls` to a message (idempotent: a redelivered job changes nothing). */
  async attach(conversationId: string, messageId: string, urls: readonly string[]): Promise<void> {
    for (const [i, url] of urls.entries()) {
      await this.sql.query('INSERT INTO message_links (message_id, conversation_id, position, url) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [messageId, conversationId, i, url]);
    }
  }

  /** The successful previews of these messages of one conversation, in link order. */
  async forMessages(conversationId: string, messageIds: readonly string[]): Promise<(PreviewRow & { message_id: string })[]> {
    if (messageIds.length === 0) return [];
    const r = await this.sql.query<PreviewRow & { message_id: string }>(
      `SELECT l.message_id, p.* FROM message_links l JOIN link_previews p ON p.url = l.url
       WHERE l.conversation_id = $1 AND l.message_id = ANY($2::text[]) AND p.ok
       ORDER BY l.message_id, l.position`,
      [conversationId, messageIds],
    );
    return r.rows;
  }
}
