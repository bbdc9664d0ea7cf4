/**
 * Benchmark of the WebSocket fan-out hot path: Parley side by side with two minimal `ws`
 * peers on this machine, same workload, same client harness; prints absolute numbers and
 * the ratios of Parley to each peer. Timings on a shared machine are noisy: read the ratios,
 * and never assert on any of it. How to run and read it: bench/README.md.
 *
 *   npm run bench [-- --members 201 --messages 600 --warmup 100 --window 32 --probe 100 --only parley,naive,once --profile]
 *
 * Each server runs in this process; the sender and the receivers each run in a child process
 * (bench/fanout-client.ts) so the load generator never shares the server's event loop. All
 * traffic is on 127.0.0.1; a watchdog ends the run after --max-seconds.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { call, signup, startTestServer, type TestServer } from '../test/harness.js';
import type { SqlDatabase, SqlExecutor } from '../src/platform/sql/sql.port.js';
import { startPeer, type PeerKind } from './peers.js';
import { latencyStats, type FromClient, type LatencyStats, type Phase, type ReceiverReport, type SenderReport, type ToClient } from './fanout-shared.js';

// ---------------------------------------------------------------------------------------
// Options

const { values: opts } = parseArgs({
  options: {
    members: { type: 'string', default: '201' },
    messages: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '100' },
    window: { type: 'string', default: '32' },
    probe: { type: 'string', default: '100' },
    only: { type: 'string', default: 'parley,naive,once' },
    'receiver-procs': { type: 'string', default: String(Math.max(1, Math.min(4, os.cpus().length - 2))) },
    profile: { type: 'boolean', default: false },
    'max-seconds': { type: 'string', default: '150' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

if (opts.help) {
  console.log(`npm run bench -- [options]
  --members N      group size: 1 sender + N-1 receivers (default 201)
  --messages M     measured messages (default 600)
  --warmup W       warm-up messages before measuring (default 100)
  --window K       message.send frames in flight (default 32)
  --probe L        then L messages one at a time, for latency without queueing (default 100; 0: skip)
  --only LIST      servers to run, of parley,naive,once (default all)
  --receiver-procs P  child processes sharing the receivers (default: CPUs - 2, 1 to 4)
  --profile        CPU-profile Parley's process during its measured phase; print where the time goes
  --max-seconds S  watchdog: give up and clean up after S seconds (default 150)`);
  process.exit(0);
}

function intOpt(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}`);
    process.exit(64);
  }
  return n;
}
const MEMBERS = intOpt('members', opts.members, 2);
const RECEIVERS = MEMBERS - 1;
const MESSAGES = intOpt('messages', opts.messages, 1);
const WARMUP = intOpt('warmup', opts.warmup, 0);
const WINDOW = intOpt('window', opts.window, 1);
const PROBE = intOpt('probe', opts.probe, 0);
const MAX_SECONDS = intOpt('max-seconds', opts['max-seconds'], 10);
const RECEIVER_PROCS = Math.min(RECEIVERS, intOpt('receiver-procs', opts['receiver-procs'], 1));
const ONLY = new Set((opts.only ?? '').split(',').map((s) => s.trim()));
for (const k of ONLY) {
  if (k !== 'parley' && k !== 'naive' && k !== 'once') {
    console.error(`--only: unknown server "${k}" (parley, naive, once)`);
    process.exit(64);
  }
}
/** Phases give up (and report what arrived) this long before the watchdog fires. */
const DEADLINE = Date.now() + MAX_SECONDS * 1000 - 15_000;
const timeLeft = (): number => Math.max(5_000, DEADLINE - Date.now());
const CLIENT = fileURLToPath(new URL('./fanout-client.ts', import.meta.url));

// ---------------------------------------------------------------------------------------
// Child processes (the load generator)

const children = new Set<ChildProcess>();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Client {
  private readonly proc: ChildProcess;
  private readonly inbox: FromClient[] = [];
  private waiter: (() => void) | null = null;
  private exited: string | null = null;

  constructor(readonly role: string) {
    // The parent runs under tsx; the child inherits its loader through execArgv.
    this.proc = fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.execArgv, serialization: 'advanced' });
    children.add(this.proc);
    this.proc.on('message', (m: FromClient) => {
      this.inbox.push(m);
      this.waiter?.();
    });
    this.proc.on('exit', (code, signal) => {
      children.delete(this.proc);
      this.exited = `exited (${signal ?? code})`;
      this.waiter?.();
    });
  }

  send(msg: ToClient): void {
    if (this.proc.connected) this.proc.send(msg);
  }

  /** The next message of `type` (a `fatal` or an exit rejects), or null after `ms`. */
  async next<T extends FromClient['type']>(type: T, ms: number): Promise<Extract<FromClient, { type: T }> | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === 'fatal');
      if (i >= 0) {
        const m = this.inbox.splice(i, 1)[0]!;
        if (m.type === 'fatal') throw new Error(`${this.role}: ${m.message}`);
        return m as Extract<FromClient, { type: T }>;
      }
      if (this.exited) throw new Error(`${this.role} ${this.exited}`);
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
  }

  async close(): Promise<void> {
    this.send({ cmd: 'close' });
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        resolve();
      }, 3_000);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** Servers to stop if the run is cut short (watchdog, Ctrl-C), so no temp data is left. */
const servers = new Set<{ stop(): Promise<void>; dataDir?: string }>();

let aborting = false;

async function abort(code: number): Promise<void> {
  if (aborting) return;
  aborting = true;
  killChildren();
  const stopping = Promise.allSettled([...servers].map((s) => s.stop()));
  await Promise.race([stopping, sleep(5_000)]);
  for (const s of servers) if (s.dataDir) rmSync(s.dataDir, { recursive: true, force: true });
  process.exit(code);
}

// ---------------------------------------------------------------------------------------
// One workload against one server

interface Target {
  name: string;
  wsUrl: string;
  senderToken: string;
  receiverTokens: string[];
  conversationId: string;
  setupMs: number;
}

interface Result {
  name: string;
  setupMs: number;
  connectMs: number;
  /** The measured (pipelined) phase. */
  sender: SenderReport;
  receivers: Merged;
  /** The latency probe (one message in flight), when run. */
  probe?: { sender: SenderReport; receivers: Merged };
  /** This (the server's) process during the measured phase. */
  serverCpuUs: number;
  serverElu: number;
  profile?: ProfileSummary;
}

/** The reports of every receiver process, as one. */
interface Merged {
  complete: boolean;
  delivered: number;
  expected: number;
  latency: LatencyStats;
  firstUs: number;
  lastUs: number;
  /** The busiest receiver process's event-loop utilisation. */
  elu: number;
  closes: Record<string, number>;
  otherFrames: number;
}

function merge(reports: ReceiverReport[]): Merged {
  const samples = new Float64Array(reports.reduce((n, r) => n + r.samples.length, 0));
  let at = 0;
  const closes: Record<string, number> = {};
  for (const r of reports) {
    samples.set(r.samples, at);
    at += r.samples.length;
    for (const [code, n] of Object.entries(r.closes)) closes[code] = (closes[code] ?? 0) + n;
  }
  const started = reports.filter((r) => r.delivered > 0);
  return {
    complete: reports.every((r) => r.complete),
    delivered: reports.reduce((n, r) => n + r.delivered, 0),
    expected: reports.reduce((n, r) => n + r.expected, 0),
    latency: latencyStats(samples),
    firstUs: Math.min(...started.map((r) => r.firstUs)),
    lastUs: Math.max(...started.map((r) => r.lastUs)),
    elu: Math.max(...reports.map((r) => r.elu)),
    closes,
    otherFrames: reports.reduce((n, r) => n + r.otherFrames, 0),
  };
}

async function runPhase(sender: Client, receivers: Client[], phase: Phase, count: number, window: number): Promise<{ s: SenderReport; r: Merged }> {
  sender.send({ cmd: 'send', phase, count, window });
  const s = await sender.next('sent', timeLeft());
  const reports: ReceiverReport[] = [];
  for (const rc of receivers) {
    let r = await rc.next('received', s ? timeLeft() : 5_000);
    if (!r) {
      rc.send({ cmd: 'report', phase }); // what arrived so far
      r = await rc.next('received', 5_000);
    }
    if (!r) throw new Error(`${rc.role}: no report`);
    reports.push(r.report);
  }
  if (!s) throw new Error(`${{ w: 'warm-up', m: 'measured', l: 'latency probe' }[phase]} phase: the sender did not finish in time (--max-seconds)`);
  return { s: s.report, r: merge(reports) };
}

async function runWorkload(t: Target, profiler?: Profiler): Promise<Result> {
  const chunk = Math.ceil(t.receiverTokens.length / RECEIVER_PROCS);
  const receivers = Array.from({ length: RECEIVER_PROCS }, (_, i) => ({ c: new Client(`${t.name} receivers #${i + 1}`), tokens: t.receiverTokens.slice(i * chunk, (i + 1) * chunk) })).filter((r) => r.tokens.length);
  const sender = new Client(`${t.name} sender`);
  const rcs = receivers.map((r) => r.c);
  try {
    const t0 = Date.now();
    for (const { c, tokens } of receivers) c.send({ cmd: 'receivers', wsUrl: t.wsUrl, tokens, perReceiver: { w: WARMUP, m: MESSAGES, l: PROBE }, concurrency: 16 });
    for (const c of rcs) if (!(await c.next('connected', timeLeft()))) throw new Error(`${c.role} did not connect in time`);
    sender.send({ cmd: 'sender', wsUrl: t.wsUrl, token: t.senderToken, conversationId: t.conversationId, tag: Math.random().toString(36).slice(2, 10) });
    if (!(await sender.next('connected', 30_000))) throw new Error('sender did not connect within 30s');
    const connectMs = Date.now() - t0;
    await sleep(500); // let connection-time events (presence...) pass

    if (WARMUP > 0) {
      const w = await runPhase(sender, rcs, 'w', WARMUP, WINDOW);
      if (w.s.errors || !w.r.complete) console.warn(`  ${t.name} warm-up: ${w.s.errors} errors (${w.s.firstError ?? ''}), ${w.r.delivered}/${w.r.expected} delivered`);
      await sleep(300);
    }

    await profiler?.start();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const m = await runPhase(sender, rcs, 'm', MESSAGES, WINDOW);
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const profile = await profiler?.stop();
    let probe: { s: SenderReport; r: Merged } | undefined;
    if (PROBE > 0) {
      await sleep(300);
      probe = await runPhase(sender, rcs, 'l', PROBE, 1);
    }
    return {
      name: t.name,
      setupMs: t.setupMs,
      connectMs,
      sender: m.s,
      receivers: m.r,
      serverCpuUs: cpu.user + cpu.system,
      serverElu: elu.utilization,
      ...(probe ? { probe: { sender: probe.s, receivers: probe.r } } : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    await Promise.all([sender.close(), ...rcs.map((c) => c.close())]);
  }
}

// ---------------------------------------------------------------------------------------
// Servers

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

async function withParley<R>(fn: (t: Target, server: TestServer) => Promise<R>): Promise<R> {
  const t0 = Date.now();
  const server: TestServer = await startTestServer({
    sql: 'pglite',
    env: {
      RATE_LIMIT_WS_SEND: '1000000/1s',
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE: '2s',
      GROUP_MEMBER_LIMIT: String(Math.max(1000, MEMBERS)),
    },
  });
  const handle = { stop: () => server.stop(), dataDir: server.dataDir };
  servers.add(handle);
  try {
    // Signups hash a password (argon2): a few at a time keeps the threadpool busy.
    const users = await mapLimit(Array.from({ length: MEMBERS }, (_, i) => i), 8, (i) => signup(server.url, i === 0 ? 'sender' : 'rcv'));
    const owner = users[0]!;
    const conv = await call(server.url, 'POST', '/v1/conversations', { token: owner.accessToken, body: { type: 'group', title: 'fan-out bench', memberIds: [] } });
    if (conv.status !== 201) throw new Error(`create group: ${conv.status} ${JSON.stringify(conv.body)}`);
    const conversationId = conv.body.id as string;
    const others = users.slice(1).map((u) => u.id);
    for (let i = 0; i < others.length; i += 1000) {
      const r = await call(server.url, 'POST', `/v1/conversations/${conversationId}/members`, { token: owner.accessToken, body: { userIds: others.slice(i, i + 1000) } });
      if (r.status !== 200) throw new Error(`add members: ${r.status} ${JSON.stringify(r.body)}`);
    }
    return await fn({
      name: 'Parley',
      wsUrl: server.wsUrl,
      senderToken: owner.accessToken,
      receiverTokens: users.slice(1).map((u) => u.accessToken),
      conversationId,
      setupMs: Date.now() - t0,
    }, server);
  } finally {
    await server.stop();
    servers.delete(handle);
  }
}

async function withPeer<R>(kind: PeerKind, fn: (t: Target) => Promise<R>): Promise<R> {
  const t0 = Date.now();
  const peer = await startPeer(kind);
  servers.add(peer);
  try {
    return await fn({
      name: kind === 'naive' ? 'naive ws' : 'encode-once ws',
      wsUrl: peer.wsUrl,
      senderToken: 'u0',
      receiverTokens: Array.from({ length: RECEIVERS }, (_, i) => `u${i + 1}`),
      conversationId: 'bench',
      setupMs: Date.now() - t0,
    });
  } finally {
    await peer.stop();
    servers.delete(peer);
  }
}

// ---------------------------------------------------------------------------------------
// Optional CPU profile of the server process (--profile)

interface ProfileSummary {
  file: string;
  totalMs: number;
  byArea: { area: string; ms: number }[];
  topFunctions: { fn: string; where: string; ms: number }[];
  sql: SqlTallyRow[];
  transactions: number;
}

interface SqlTallyRow {
  statement: string;
  count: number;
  /** Call to result, queueing behind other queries included (PGlite runs one at a time). */
  ms: number;
}

/**
 * Counts the statements Parley runs, by text, while `on` — by wrapping this one database
 * object's methods (the repositories call them through it); nothing in src/ changes.
 */
function tallySql(sql: SqlDatabase): { on: boolean; rows(): SqlTallyRow[]; transactions: number } {
  const stats = new Map<string, SqlTallyRow>();
  const tally = {
    on: false,
    transactions: 0,
    rows: () => [...stats.values()].sort((a, b) => b.count - a.count || b.ms - a.ms),
  };
  const wrap = (q: SqlExecutor['query'], inTx: boolean): SqlExecutor['query'] =>
    async function query<T>(text: string, params?: readonly unknown[]) {
      if (!tally.on) return q<T>(text, params);
      const t0 = performance.now();
      try {
        return await q<T>(text, params);
      } finally {
        const key = (inTx ? '[tx] ' : '') + text.replace(/\s+/g, ' ').trim().slice(0, 110);
        const row = stats.get(key) ?? { statement: key, count: 0, ms: 0 };
        row.count += 1;
        row.ms += performance.now() - t0;
        stats.set(key, row);
      }
    };
  sql.query = wrap(sql.query.bind(sql), false);
  const transaction = sql.transaction.bind(sql);
  sql.transaction = <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => {
    if (tally.on) tally.transactions += 1;
    return transaction((tx) => fn({ query: wrap(tx.query.bind(tx), true), exec: tx.exec.bind(tx) }));
  };
  return tally;
}

interface CpuProfileNode {
  id: number;
  hitCount?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profiler {
  start(): Promise<void>;
  stop(): Promise<ProfileSummary>;
}

function areaOf(node: CpuProfileNode): string {
  const { functionName: fn, url } = node.callFrame;
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'native (program)';
  if (url.startsWith('wasm://') || url.includes('@electric-sql/pglite')) return 'PGlite (WASM Postgres + JS glue)';
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (/\/node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|fast-json-stringify|ajv)/.test(url)) return 'fastify/ajv';
  if (url.includes('/node_modules/pino')) return 'pino';
  if (url.includes('/node_modules/prom-client')) return 'prom-client';
  const dep = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dep) return `dep: ${dep[1]}`;
  if (url.includes('/src/')) return 'Parley src/';
  if (url.includes('/bench/') || url.includes('/test/')) return 'bench harness';
  if (url.startsWith('node:') || url === '') return 'node core / native';
  return 'other';
}

function makeProfiler(sql: SqlDatabase): Profiler {
  const session = new Session();
  const tally = tallySql(sql);
  return {
    async start() {
      tally.on = true;
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    },
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as unknown as {
        profile: { nodes: CpuProfileNode[]; startTime: number; endTime: number };
      };
      session.disconnect();
      tally.on = false;
      const file = join(os.tmpdir(), `parley-fanout-${process.pid}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
      const totalMs = (profile.endTime - profile.startTime) / 1000;
      const msOf = (h: number): number => (h / hits) * totalMs;
      const areas = new Map<string, number>();
      const fns = new Map<string, { fn: string; where: string; hits: number }>();
      for (const n of profile.nodes) {
        const h = n.hitCount ?? 0;
        if (!h) continue;
        const area = areaOf(n);
        areas.set(area, (areas.get(area) ?? 0) + h);
        if (area === 'idle') continue;
        const url = n.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench|test)\//, '$1/');
        const where = url ? `${url}:${n.callFrame.lineNumber + 1}` : area;
        const key = `${n.callFrame.functionName}@${where}`;
        const f = fns.get(key) ?? { fn: n.callFrame.functionName || '(anonymous)', where, hits: 0 };
        f.hits += h;
        fns.set(key, f);
      }
      return {
        file,
        totalMs,
        byArea: [...areas].map(([area, h]) => ({ area, ms: msOf(h) })).sort((a, b) => b.ms - a.ms),
        topFunctions: [...fns.values()]
          .sort((a, b) => b.hits - a.hits)
          .slice(0, 15)
          .map((f) => ({ fn: f.fn, where: f.where, ms: msOf(f.hits) })),
        sql: tally.rows(),
        transactions: tally.transactions,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------
// Report

const ms = (us: number): string => (Number.isFinite(us) ? (us / 1000).toFixed(us < 10_000 ? 2 : 1) : '—');
const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
const loadavg = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

interface Derived {
  deliveriesPerSec: number;
  msgsPerSec: number;
  ack: LatencyStats;
  delivery: LatencyStats;
  probeAck?: LatencyStats;
  probeDelivery?: LatencyStats;
}

function derive(r: Result): Derived {
  const deliverySpanUs = r.receivers.lastUs - r.sender.firstSendUs;
  const ackSpanUs = r.sender.lastAckUs - r.sender.firstSendUs;
  return {
    deliveriesPerSec: deliverySpanUs > 0 ? r.receivers.delivered / (deliverySpanUs / 1e6) : NaN,
    msgsPerSec: ackSpanUs > 0 ? r.sender.acked / (ackSpanUs / 1e6) : NaN,
    ack: r.sender.latency,
    delivery: r.receivers.latency,
    ...(r.probe ? { probeAck: r.probe.sender.latency, probeDelivery: r.probe.receivers.latency } : {}),
  };
}

/** Columns padded to their widest cell; the first (and those in `left`) aligned left. */
function table(rows: string[][], left: readonly number[] = [0]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (left.includes(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

function report(results: Result[], load0: string, cpuModel: string): void {
  const d = results.map(derive);
  const col = (f: (r: Result, d: Derived) => string): string[] => results.map((r, i) => f(r, d[i]!));
  console.log('');
  console.log(table([
    ['', ...results.map((r) => r.name)],
    ['deliveries/s (to receivers)', ...col((_, x) => int(x.deliveriesPerSec))],
    ['messages/s (acked)', ...col((_, x) => int(x.msgsPerSec))],
    ['send→ack p50 ms', ...col((_, x) => ms(x.ack.p50))],
    ['send→ack p99 ms', ...col((_, x) => ms(x.ack.p99))],
    ['delivery p50 ms', ...col((_, x) => ms(x.delivery.p50))],
    ['delivery p99 ms', ...col((_, x) => ms(x.delivery.p99))],
    ['delivery max ms', ...col((_, x) => ms(x.delivery.max))],
    ...(PROBE > 0
      ? [
          [`1 in flight (${PROBE} msgs): send→ack p50 ms`, ...col((_, x) => ms(x.probeAck?.p50 ?? NaN))],
          ['1 in flight: send→ack p99 ms', ...col((_, x) => ms(x.probeAck?.p99 ?? NaN))],
          ['1 in flight: delivery p50 ms', ...col((_, x) => ms(x.probeDelivery?.p50 ?? NaN))],
          ['1 in flight: delivery p99 ms', ...col((_, x) => ms(x.probeDelivery?.p99 ?? NaN))],
        ]
      : []),
    ['delivered / expected', ...col((r) => `${r.receivers.delivered}/${r.receivers.expected}`)],
    ['other frames per delivery', ...col((r) => (r.receivers.delivered ? (r.receivers.otherFrames / r.receivers.delivered).toFixed(2) : '—'))],
    ['send errors', ...col((r) => String(r.sender.errors))],
    ['server CPU ms per message', ...col((r) => (r.sender.acked ? (r.serverCpuUs / 1000 / r.sender.acked).toFixed(2) : '—'))],
    ['server CPU µs per delivery', ...col((r) => (r.receivers.delivered ? (r.serverCpuUs / r.receivers.delivered).toFixed(2) : '—'))],
    ['server event loop busy', ...col((r) => pct(r.serverElu))],
    ['receiver process loop busy', ...col((r) => pct(r.receivers.elu))], // the busiest one, if several
    ['setup + connect s', ...col((r) => `${(r.setupMs / 1000).toFixed(1)} + ${(r.connectMs / 1000).toFixed(1)}`)],
  ]));
  for (const r of results) {
    const closes = Object.entries(r.receivers.closes);
    if (closes.length) console.log(`  ${r.name}: receiver sockets closed by the server: ${closes.map(([c, n]) => `${n}×${c}`).join(', ')}`);
    if (r.sender.firstError) console.log(`  ${r.name}: first send error: ${r.sender.firstError}`);
  }

  const pi = results.findIndex((r) => r.name === 'Parley');
  const peers = results.map((r, i) => ({ r, i })).filter(({ i }) => i !== pi);
  if (pi >= 0 && peers.length) {
    const p = d[pi]!;
    const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}×` : '—');
    console.log('\nRatios, Parley ÷ peer (throughput: below 1× = Parley slower; latency: above 1× = Parley slower)');
    console.log(table([
      ['', ...peers.map(({ r }) => `vs ${r.name}`)],
      ['deliveries/s', ...peers.map(({ i }) => ratio(p.deliveriesPerSec, d[i]!.deliveriesPerSec))],
      ['messages/s', ...peers.map(({ i }) => ratio(p.msgsPerSec, d[i]!.msgsPerSec))],
      ['send→ack p50', ...peers.map(({ i }) => ratio(p.ack.p50, d[i]!.ack.p50))],
      ['send→ack p99', ...peers.map(({ i }) => ratio(p.ack.p99, d[i]!.ack.p99))],
      ['delivery p50', ...peers.map(({ i }) => ratio(p.delivery.p50, d[i]!.delivery.p50))],
      ['delivery p99', ...peers.map(({ i }) => ratio(p.delivery.p99, d[i]!.delivery.p99))],
      ...(PROBE > 0
        ? [
            ['1 in flight: send→ack p50', ...peers.map(({ i }) => ratio(p.probeAck?.p50 ?? NaN, d[i]!.probeAck?.p50 ?? NaN))],
            ['1 in flight: send→ack p99', ...peers.map(({ i }) => ratio(p.probeAck?.p99 ?? NaN, d[i]!.probeAck?.p99 ?? NaN))],
            ['1 in flight: delivery p50', ...peers.map(({ i }) => ratio(p.probeDelivery?.p50 ?? NaN, d[i]!.probeDelivery?.p50 ?? NaN))],
            ['1 in flight: delivery p99', ...peers.map(({ i }) => ratio(p.probeDelivery?.p99 ?? NaN, d[i]!.probeDelivery?.p99 ?? NaN))],
          ]
        : []),
      ['server CPU per delivery', ...peers.map(({ r }) => ratio(results[pi]!.serverCpuUs / results[pi]!.receivers.delivered, r.serverCpuUs / r.receivers.delivered))],
    ]));
  }

  const prof = results.find((r) => r.profile)?.profile;
  if (prof) {
    const busy = prof.byArea.filter((a) => a.area !== 'idle').reduce((s, a) => s + a.ms, 0) || 1;
    console.log(`\nWhere Parley's server process spent its measured phase (${prof.totalMs.toFixed(0)} ms sampled; profile: ${prof.file})`);
    console.log(table([['area', 'ms', 'of busy'], ...prof.byArea.map((a) => [a.area, a.ms.toFixed(0), a.area === 'idle' ? '' : pct(a.ms / busy)])]));
    console.log('\nTop functions by self time');
    console.log(table([['function', 'ms', 'where'], ...prof.topFunctions.map((f) => [f.fn, f.ms.toFixed(0), f.where])], [0, 2]));
    const n = results.find((r) => r.profile)!.sender.acked || 1;
    const total = prof.sql.reduce((a, r) => a + r.count, 0);
    console.log(`\nSQL statements: ${(total / n).toFixed(1)} per message sent (${total} in all), ${(prof.transactions / n).toFixed(1)} transactions per message; wall ms includes waiting for PGlite, which runs one statement at a time`);
    console.log(table([['per msg', 'wall ms', 'statement'], ...prof.sql.slice(0, 20).map((r) => [(r.count / n).toFixed(2), r.ms.toFixed(0), r.statement])], [2]));
  }

  console.log(`\nloadavg before ${load0}, after ${loadavg()} (${os.cpus().length} CPUs: ${cpuModel}). Timings are noisy; compare ratios across runs, not absolute numbers.`);
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench: gave up after ${MAX_SECONDS}s (--max-seconds); stopping`);
    void abort(2);
  }, MAX_SECONDS * 1000);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void abort(130));
  }

  const load0 = loadavg();
  const cpuModel = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(
    `Fan-out: 1 sender → ${RECEIVERS} receivers in one group, ${MESSAGES} messages (+${WARMUP} warm-up) ${WINDOW} in flight, then ${PROBE} one at a time; ` +
      `Node ${process.version}, ${os.cpus().length} CPUs (${cpuModel}); loadavg ${load0}`,
  );
  const results: Result[] = [];
  if (ONLY.has('parley')) {
    process.stdout.write('Parley (PGlite, in-process) ... ');
    results.push(await withParley((t, server) => runWorkload(t, opts.profile ? makeProfiler(server.parley.platform.sql) : undefined)));
    console.log('done');
  }
  for (const kind of ['naive', 'once'] as const) {
    if (!ONLY.has(kind)) continue;
    process.stdout.write(`${kind === 'naive' ? 'naive ws' : 'encode-once ws'} ... `);
    results.push(await withPeer(kind, (t) => runWorkload(t)));
    console.log('done');
  }
  report(results, load0, cpuModel);
  clearTimeout(watchdog);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (aborting) return; // the run was cut short; abort() exits
    console.error('bench failed:', err);
    void abort(1);
  },
);
