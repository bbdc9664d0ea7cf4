/**
 * Message search benchmark (not a test): fills a fresh PostgreSQL database with N messages
 * across C conversations, then times the SQL message store's full-text search (generated
 * 'simple' tsvector + GIN, prefix query) against a plain `ILIKE '%word%'` scan of the same
 * shape in the same run, and prints p50/p99 of each and their ratio.
 *
 *   npm run bench:search                               # 1M messages, 1000 conversations
 *   npm run bench:search -- --messages 200000 --queries 100
 *
 * Uses TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test): creates its own
 * database and drops it at the end (also on Ctrl-C).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { PostgresDatabase } from '../src/platform/sql/sql.postgres.js';
import { migrate } from '../src/platform/sql/migrator.js';
import { SqlMessageStore } from '../src/platform/message-store/message-store.sql.js';
import { createTestDatabase } from '../test/support/postgres.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    conversations: { type: 'string', default: '1000' },
    'member-of': { type: 'string', default: '100' },
    queries: { type: 'string', default: '200' },
    vocabulary: { type: 'string', default: '20000' },
    limit: { type: 'string', default: '20' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.error(`usage: npm run bench:search -- [--messages N] [--conversations C] [--member-of K] [--queries Q] [--vocabulary V] [--limit L]

  --messages N       messages stored (default 1000000)
  --conversations C  conversations they are spread over (default 1000)
  --member-of K      conversations the searching user is a member of, searched at once (default 100)
  --queries Q        timed queries per method (default 200, after 20 warm-up queries)
  --vocabulary V     distinct words; word frequencies are skewed like natural text (default 20000)
  --limit L          results per query, newest first (default 20)`);
  process.exit(0);
}
const N = Number(values.messages);
const C = Number(values.conversations);
const K = Math.min(Number(values['member-of']), C);
const Q = Number(values.queries);
const V = Number(values.vocabulary);
const LIMIT = Number(values.limit);

/** A deterministic pseudo-word for index i ("kelomu", "tari", ...). */
function word(i: number): string {
  const cons = 'bdfgklmnprstvz';
  const vow = 'aeiou';
  let s = '';
  let x = i + 7;
  do {
    s += cons[x % cons.length]! + vow[Math.floor(x / cons.length) % vow.length]!;
    x = Math.floor(x / (cons.length * vow.length));
  } while (x > 0);
  return s;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const t = await createTestDatabase();
let cleaned = false;
const cleanup = async () => {
  if (cleaned) return;
  cleaned = true;
  await t.drop().catch(() => {});
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

const db = new PostgresDatabase(t.url, { max: 4 });
try {
  await migrate(db);
  const vocab = Array.from({ length: V }, (_, i) => word(i));
  console.error(`filling ${N} messages across ${C} conversations (vocabulary ${V} words)…`);
  const fillStart = performance.now();
  // Index built once after the load (as a restore would), rather than row by row.
  await db.query('DROP INDEX messages_search');
  // A seeded generator, so every run stores the same messages.
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const BATCH = 10_000;
  const now = Date.now();
  for (let from = 0; from < N; from += BATCH) {
    const count = Math.min(BATCH, N - from);
    const ids: string[] = [];
    const convs: string[] = [];
    const seqs: number[] = [];
    const texts: string[] = [];
    const times: string[] = [];
    for (let g = from; g < from + count; g++) {
      ids.push(g.toString(16).padStart(32, '0'));
      convs.push('c' + String(g % C).padStart(5, '0'));
      seqs.push(Math.floor(g / C) + 1);
      // 6–20 words; word rank = V * r^3: a few very common words and a long tail, like natural text.
      const len = 6 + Math.floor(rand() * 15);
      const ws: string[] = [];
      for (let i = 0; i < len; i++) ws.push(vocab[Math.floor(V * rand() ** 3)]!);
      texts.push(ws.join(' '));
      times.push(new Date(now - (N - g) * 1000).toISOString());
    }
    await db.query(
      `INSERT INTO messages (id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, created_at, updated_at)
       SELECT id, cid, seq, seq, 'u' || (seq % 500), 'b' || id, 'user', text, at, at
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[]) AS t(id, cid, seq, text, at)`,
      [ids, convs, seqs, texts, times],
    );
    if ((from / BATCH) % 10 === 0) process.stderr.write(`  ${from + count}\r`);
  }
  await db.query('CREATE INDEX messages_search ON messages USING gin (search_tsv)');
  await db.query('ANALYZE messages');
  const sample = await db.query<{ text: string }>('SELECT text FROM messages ORDER BY id LIMIT 2');
  console.error(`sample: ${sample.rows.map((r) => JSON.stringify(r.text.slice(0, 60))).join(', ')}`);
  console.error(`\nfilled and indexed in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`);

  const store = new SqlMessageStore(db);
  const conversationIds = Array.from({ length: K }, (_, i) => 'c' + String(Math.floor((i * C) / K)).padStart(5, '0'));
  // Query terms: prefixes (4 letters) of words across the frequency range.
  const terms = Array.from({ length: Q + 20 }, (_, i) => vocab[Math.floor(V * Math.pow((i * 0.618034) % 1, 2))]!.slice(0, 4));

  const fts = async (term: string) => (await store.search({ conversationIds, terms: [term], limit: LIMIT + 1 })).length;
  const ilike = async (term: string) => {
    const { rows } = await db.query(
      `SELECT id, text FROM messages WHERE conversation_id = ANY($1::text[]) AND text ILIKE $2 AND kind = 'user' AND deleted_at IS NULL
       ORDER BY date_trunc('milliseconds', created_at) DESC, id DESC LIMIT $3`,
      [conversationIds, `%${term}%`, LIMIT + 1],
    );
    return rows.length;
  };

  const run = async (name: string, fn: (term: string) => Promise<number>) => {
    for (const term of terms.slice(0, 20)) await fn(term);
    const times: number[] = [];
    let hits = 0;
    for (const term of terms.slice(20)) {
      const start = performance.now();
      hits += await fn(term);
      times.push(performance.now() - start);
    }
    return { name, p50: pct(times, 50), p99: pct(times, 99), hits };
  };
  const a = await run('full-text (tsvector + GIN)', fts);
  const b = await run('ILIKE scan', ilike);
  const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
  console.log(`\nsearch over ${K} of ${C} conversations, ${N} messages, ${Q} queries each, limit ${LIMIT}`);
  for (const r of [a, b]) console.log(`${r.name.padEnd(28)} p50 ${fmt(r.p50).padStart(10)}   p99 ${fmt(r.p99).padStart(10)}   results ${r.hits}`);
  console.log(`ratio (ILIKE / full-text)     p50 ${(b.p50 / a.p50).toFixed(1)}x       p99 ${(b.p99 / a.p99).toFixed(1)}x`);
} finally {
  await db.close();
  await cleanup();
}
