import { invalid } from '../../errors.js';
import type { MessageStore } from '../../platform/message-store/index.js';
import { MAX_QUERY_TERMS, searchTerms, words } from '../../platform/message-store/search-terms.js';
import type { SearchHit } from '../../../sdk/types.js';
import { decodeKeysetCursor, keysetPage } from '../keyset-cursor.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import type { MessageViews } from '../messages/message.view.js';

/** Characters of context a snippet keeps around the first match. */
const SNIPPET_BEFORE = 60;
const SNIPPET_LENGTH = 200;

export interface SearchInput {
  q: string;
  conversationId?: string;
  from?: string;
  before?: string;
  after?: string;
  has?: 'attachment';
  cursor?: string;
  limit: number;
}

function parseDate(name: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const d = new Date(raw);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) throw invalid(`${name} must be an ISO-8601 date.`);
  return d;
}

/** The snippet of `text` around the first matching word, with every matching word marked. */
export function snippetOf(text: string, terms: readonly string[]): { snippet: string; highlights: { start: number; length: number }[] } {
  const matches = words(text).filter((w) => terms.some((t) => w.lower.startsWith(t)));
  const first = matches[0]?.start ?? 0;
  let start = Math.max(0, first - SNIPPET_BEFORE);
  // Start on a word boundary when cutting into the text.
  if (start > 0) {
    const space = text.lastIndexOf(' ', start);
    start = space >= 0 && first - space <= SNIPPET_BEFORE + 20 ? space + 1 : start;
  }
  const end = Math.min(text.length, start + SNIPPET_LENGTH);
  const prefix = start > 0 ? '…' : '';
  const snippet = prefix + text.slice(start, end) + (end < text.length ? '…' : '');
  const highlights = matches.filter((w) => w.start >= start && w.end <= end).map((w) => ({ start: w.start - start + prefix.length, length: w.end - w.start }));
  return { snippet, highlights };
}

/** Message search over the caller's conversations (never anyone else's, never deleted text). */
export class SearchService {
  constructor(
    private readonly store: MessageStore,
    private readonly conversations: ConversationsService,
    private readonly views: MessageViews,
  ) {}

  async messages(userId: string, input: SearchInput): Promise<{ results: SearchHit[]; nextCursor: string | null }> {
    const terms = searchTerms(input.q).slice(0, MAX_QUERY_TERMS);
    if (terms.length === 0) throw invalid('q must contain at least one word.');
    const before = parseDate('before', input.before);
    const after = parseDate('after', input.after);
    const olderThan = input.cursor ? decodeKeysetCursor(input.cursor) : undefined;
    let conversationIds: string[];
    if (input.conversationId !== undefined) {
      await this.conversations.requireMember(userId, input.conversationId);
      conversationIds = [input.conversationId];
    } else {
      conversationIds = await this.conversations.repo.conversationIdsOf(userId);
    }
    const found = await this.store.search({
      conversationIds,
      terms,
      limit: input.limit + 1,
      ...(input.from !== undefined ? { senderId: input.from } : {}),
      ...(before ? { before } : {}),
      ...(after ? { after } : {}),
      ...(input.has === 'attachment' ? { hasAttachment: true } : {}),
      ...(olderThan ? { olderThan } : {}),
    });
    const { page, nextCursor } = keysetPage(found, input.limit, (m) => [m.createdAt, m.id]);
    const views = await this.views.many(page);
    const results = page.map((m, i) => ({ message: views[i]!, conversationId: m.conversationId, seq: m.seq, ...snippetOf(m.text ?? '', terms) }));
    return { results, nextCursor };
  }
}
