/**
 * Benchmark of the send path: persisted sends per second end to end (WebSocket
 * `message.send` → stored with everything a send writes → `ack`), against the database's own
 * batched-insert ceiling measured in the same run on the same database (rows of the
 * `messages` shape with its indexes, inserted 500 per statement from as many connections as
 * the server's pool), and the ratio. Also the SQL statements per send. Timings on a shared
 * machine are noisy: compare within one run, never assert on it.
 *
 *   npm run bench:sendpath [-- --sql postgres|pglite --senders 32 --window 8 --conversations 16 --messages 4000]
 *
 * The server runs in this process (roles api,ws; in-process jobs, the outbox relay on); the
 * clients are `ws` sockets in this process too, so the load generator shares its event loop
 * (a cost the ceiling does not pay). A second phase calls MessagesService.send directly
 * (512 in flight, no WebSocket) to show the send path's own rate beside the ceiling.
 * Also printed: the statements by kind, and the CPU per send of this process and of
 * PostgreSQL's processes (from /proc, when PostgreSQL runs on this machine).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { call, signup, startTestServer, type TestUser } from '../test/harness.js';
import { CountingSqlDatabase } from '../src/platform/sql/sql.counting.js';
import type { SqlDatabase } from '../src/platform/sql/sql.port.js';
import { readdirSync, readFileSync } from 'node:fs';
import { cpuDelta, cpuUs } from './stacks.js';

const { values: opts } = parseArgs({
  options: {
    sql: { type: 'string', default: 'postgres' },
    senders: { type: 'string', default: '32' },
    window: { type: 'string', default: '8' },
    conversations: { type: 'string', default: '16' },
    messages: { type: 'string', default: '4000' },
    'pool-max': { type: 'string', default: '10' },
  },
});
const SQL = opts.sql === 'pglite' ? 'pglite' : 'postgres';
const SENDERS = Number(opts.senders);
const WINDOW = Number(opts.window);
const CONVS = Math.min(Number(opts.conversations), SENDERS);
const MESSAGES = Number(opts.messages);
const POOL = Number(opts['pool-max']);

/** One sender connection: keeps `WINDOW` sends in flight until `quota` are acked. */
async function runSender(wsUrl: string, token: string, cid: string, quota: number, tag: string): Promise<number> {
  const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => {
    ws.on('message', function first(d) {
      if (JSON.parse(d.toString()).type === 'ready') {
        ws.off('message', first);
        resolve();
      }
    });
    ws.once('error', reject);
  });
  let sent = 0;
  let acked = 0;
  let errors = 0;
  await new Promise<void>((resolve) => {
    const next = () => {
      if (sent >= quota) return;
      const i = sent++;
      ws.send(JSON.stringify({ type: 'message.send', id: `${i}`, conversationId: cid, clientMsgId: `${tag}-${i}`, text: `bench message ${i}` }));
    };
    ws.on('message', (d) => {
      const s = d.toString();
      // Only replies to our frames (they carry an id); message.new fan-out is ignored.
      if (!s.startsWith('{"type":"ack"') && !s.startsWith('{"type":"error"')) return;
      if (s.startsWith('{"type":"error"')) errors += 1;
      acked += 1;
      if (acked >= quota) resolve();
      else next();
    });
    for (let i = 0; i < Math.min(WINDOW, quota); i++) next();
  });
  ws.close();
  return errors;
}

/** The PostgreSQL server's processes on this machine (for its CPU time; none when it runs elsewhere). */
function postgresPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Statements by kind: the leading comment or the first words, most frequent first. */
function breakdown(texts: readonly string[]): string {
  const by = new Map<string, number>();
  for (const t of texts) {
    const k = /^\/\*\s*([^*]+?)\s*\*\//.exec(t)?.[1] ?? t.replace(/\s+/g, ' ').slice(0, 40);
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${n}× ${k}`).join('; ');
}

/** Rows/s the database itself takes in batched multi-row INSERTs into a copy of `messages`. */
async function insertCeiling(db: SqlDatabase, rows: number, connections: number): Promise<number> {
  await db.exec('DROP TABLE IF EXISTS bench_ceiling; CREATE TABLE bench_ceiling (LIKE messages INCLUDING ALL)');
  const BATCH = 500;
  let next = 0;
  const worker = async (w: number) => {
    for (;;) {
      const start = next;
      if (start >= rows) return;
      next += BATCH;
      const n = Math.min(BATCH, rows - start);
      const ids = Array.from({ length: n }, (_, i) => `c${w}-${start + i}`);
      await db.query(
        `INSERT INTO bench_ceiling (id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, created_at, updated_at)
         SELECT id, 'conv' || (ord % 16), ord, ord, 'sender', id, 'user', 'bench message', clock_timestamp(), clock_timestamp()
         FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord0), LATERAL (SELECT $2::bigint + ord0 AS ord) o`,
        [ids, start],
      );
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  await db.exec('DROP TABLE bench_ceiling');
  return rows / secs;
}

async function main(): Promise<void> {
  let counter: CountingSqlDatabase | undefined;
  const server = await startTestServer({
    sql: SQL,
    roles: ['api', 'ws'],
    env: { RATE_LIMIT_WS_SEND: '100000000/1s', DATABASE_POOL_MAX: String(POOL), LOG_LEVEL: 'silent' },
    wrapSql: (db) => (counter = new CountingSqlDatabase(db)),
  });
  try {
    const users: TestUser[] = [];
    for (let i = 0; i < SENDERS; i++) users.push(await signup(server.url, `s${i}`));
    const convs: string[] = [];
    for (let c = 0; c < CONVS; c++) {
      const members = users.filter((_, i) => i % CONVS === c);
      const g = await call(server.url, 'POST', '/v1/conversations', { token: members[0]!.accessToken, body: { type: 'group', title: `bench ${c}`, memberIds: members.slice(1).map((u) => u.id) } });
      convs.push(g.body.id);
    }
    const quota = Math.ceil(MESSAGES / SENDERS);
    // Warm-up: plans, pools, JIT.
    await Promise.all(users.map((u, i) => runSender(server.wsUrl, u.accessToken, convs[i % CONVS]!, 20, `warm${i}`)));
    counter!.reset();
    const pgBefore = cpuUs(postgresPids());
    const nodeBefore = process.cpuUsage();
    const t0 = performance.now();
    const errors = (await Promise.all(users.map((u, i) => runSender(server.wsUrl, u.accessToken, convs[i % CONVS]!, quota, `run${i}`)))).reduce((a, b) => a + b, 0);
    const secs = (performance.now() - t0) / 1000;
    const nodeCpu = process.cpuUsage(nodeBefore);
    const pgCpuUs = cpuDelta(pgBefore, cpuUs(postgresPids()));
    const total = quota * SENDERS;
    const statements = counter!.statements.length;
    const kinds = breakdown(counter!.statements.map((x) => x.text));
    const transactions = counter!.statements.filter((s) => s.text === 'BEGIN').length;
    const stored = await server.parley.platform.sql.query<{ n: number }>(`SELECT count(*) AS n FROM messages WHERE client_msg_id LIKE 'run%'`);
    const persisted = Number(stored.rows[0]!.n);
    const sendsPerSec = persisted / secs;

    // The same sends without WebSocket: MessagesService.send called directly, 512 at a time,
    // so what is left is the send path itself (validation, the batcher, the statement, the
    // publish) without frames, parsing and the clients' share of this process.
    const direct = Math.max(total, 20_000);
    const t1 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 512 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= direct) return;
          await server.parley.services.messages.send(users[i % SENDERS]!.id, { conversationId: convs[i % SENDERS % CONVS]!, clientMsgId: `direct-${i}`, text: `bench message ${i}` });
        }
      }),
    );
    const directPerSec = direct / ((performance.now() - t1) / 1000);

    const ceiling = await insertCeiling(server.parley.platform.sql, Math.max(50_000, total * 5), SQL === 'pglite' ? 1 : POOL);
    const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
    console.log(`send path bench (${SQL}): ${SENDERS} senders × window ${WINDOW}, ${CONVS} conversations, ${total} sends`);
    console.log(`  persisted sends/s end to end : ${sendsPerSec.toFixed(0)}  (${persisted}/${total} stored, ${errors} error frames, ${secs.toFixed(2)} s)`);
    console.log(`  SQL statements per send       : ${(statements / total).toFixed(2)}  (${statements} statements incl. outbox relay, ${transactions} batch transactions)`);

    console.log(`  statements by kind            : ${kinds}`);
    console.log(`  CPU µs per send               : ${((nodeCpu.user + nodeCpu.system) / total).toFixed(0)} this process (server and clients), ${SQL === 'pglite' ? 'PGlite runs in this process' : `${(pgCpuUs / total).toFixed(0)} PostgreSQL (${pgCpuUs > 0 ? 'its processes on this machine' : 'not on this machine'})`}`);
    console.log(`  batched-insert ceiling rows/s : ${ceiling.toFixed(0)}  (500 rows per INSERT, ${SQL === 'pglite' ? 1 : POOL} connections)`);
    console.log(`  ratio end to end / ceiling    : ${(sendsPerSec / ceiling).toFixed(3)}×  (target ≥ 0.5×)`);
    console.log(`  service-level sends/s         : ${directPerSec.toFixed(0)}  (${direct} MessagesService.send calls, 512 in flight, no WebSocket): ${(directPerSec / ceiling).toFixed(3)}× the ceiling`);
    console.log(`  loadavg                       : ${load}`);
  } finally {
    await server.stop();
  }
}

await main();
