/**
 * Benchmark of the WebSocket fan-out and connect paths: Parley (embedded, and the full
 * stack with messages in PostgreSQL or MongoDB) side by side with the servers users would
 * pick instead (Centrifugo v6 without and with history, Socket.IO 4.8 on its Redis adapter)
 * and two toy `ws` peers, on this machine, with the same load generator; prints absolute
 * numbers and the ratios of Parley to each peer. Timings on a shared machine are noisy:
 * read the ratios, and never assert on any of it. How to run and read it: bench/README.md.
 *
 *   npm run bench                   # everything, full sizes (long: see the README)
 *   npm run bench -- --quick        # smaller sizes: a few minutes
 *   npm run bench -- --help
 *
 * The in-process servers (Parley embedded, the toy peers) run in this process; the others
 * are OS processes of their own (bench/stacks.ts). The sender, the receivers and the
 * connect-phase sockets each run in child processes (bench/fanout-client.ts) so the load
 * generator never shares a server's event loop. All traffic is on 127.0.0.1; a watchdog
 * ends the run after --max-seconds.
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
import { startPeer } from './peers.js';
import { brokerProcesses, cpuDelta, cpuUs, parleyInfra, peerToken, rssKiB, startCentrifugo, startParleyFull, startSocketIo, type Broker, type ParleyFull, type ParleyInfra, type Stack } from './stacks.js';
import { latencyStats, type Dial, type FromClient, type LatencyStats, type Phase, type Proto, type ReceiverReport, type SenderReport, type StormReport, type ToClient } from './fanout-shared.js';

// ---------------------------------------------------------------------------------------
// Options

const ALL_TARGETS = ['embedded', 'full', 'full-mongo', 'full-mongo-sqlite', 'centrifugo', 'centrifugo-history', 'socketio', 'naive', 'once'] as const;
type TargetKind = (typeof ALL_TARGETS)[number];
const TARGET_NAMES: Record<TargetKind, string> = {
  embedded: 'Parley embedded',
  full: 'Parley full',
  'full-mongo': process.env.MONGODB_URL ? 'Parley full, MongoDB' : 'Parley full, FerretDB/pg',
  'full-mongo-sqlite': 'Parley full, FerretDB/sqlite',
  centrifugo: 'Centrifugo',
  'centrifugo-history': 'Centrifugo+history',
  socketio: 'Socket.IO',
  naive: 'naive ws',
  once: 'encode-once ws',
};

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rooms: { type: 'string' },
    messages: { type: 'string' },
    warmup: { type: 'string' },
    window: { type: 'string', default: '32' },
    probe: { type: 'string' },
    connections: { type: 'string' },
    'connect-concurrency': { type: 'string', default: '64' },
    only: { type: 'string', default: ALL_TARGETS.join(',') },
    'receiver-procs': { type: 'string', default: String(Math.max(1, Math.min(4, os.cpus().length - 1))) },
    profile: { type: 'boolean', default: false },
    'phase-seconds': { type: 'string' },
    'max-seconds': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

const QUICK = opts.quick ?? false;
if (opts.help) {
  console.log(`npm run bench -- [options]            (defaults: full run / --quick)
  --quick              smaller sizes, a few minutes
  --rooms LIST         room sizes (members, sender included)       (100,1000 / 100,1000)
  --messages M         measured messages per room                  (500 / 60)
  --warmup W           warm-up messages before measuring           (50 / 10)
  --window K           message sends in flight                      (32)
  --probe L            then L messages one at a time (0: skip)      (100 / 30)
  --connections N      connect phase: N authenticated sockets (0: skip) (5000 / 1000)
  --connect-concurrency C  handshakes in flight in the connect phase (64)
  --only LIST          of ${ALL_TARGETS.join(',')}
  --receiver-procs P   child processes sharing the receiving sockets (CPUs - 1, 1 to 4)
  --profile            CPU-profile Parley embedded during its measured phases; SQL per message
  --phase-seconds S    a phase still running after S seconds is cut and reported as is (300 / 90)
  --max-seconds S      watchdog for the whole run (7200 / 1500)`);
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
const ROOMS = (opts.rooms ?? '100,1000').split(',').map((r) => intOpt('rooms', r.trim(), 2));
const MESSAGES = intOpt('messages', opts.messages ?? (QUICK ? '60' : '500'), 1);
const WARMUP = intOpt('warmup', opts.warmup ?? (QUICK ? '10' : '50'), 0);
const WINDOW = intOpt('window', opts.window, 1);
const PROBE = intOpt('probe', opts.probe ?? (QUICK ? '30' : '100'), 0);
const CONNECTIONS = intOpt('connections', opts.connections ?? (QUICK ? '1000' : '5000'), 0);
const CONNECT_CONCURRENCY = intOpt('connect-concurrency', opts['connect-concurrency'], 1);
const PHASE_SECONDS = intOpt('phase-seconds', opts['phase-seconds'] ?? (QUICK ? '90' : '300'), 5);
const MAX_SECONDS = intOpt('max-seconds', opts['max-seconds'] ?? (QUICK ? '1500' : '7200'), 10);
const RECEIVER_PROCS = intOpt('receiver-procs', opts['receiver-procs'], 1);
const ONLY = (opts.only ?? '').split(',').map((s) => s.trim()).filter(Boolean) as TargetKind[];
for (const k of ONLY) {
  if (!ALL_TARGETS.includes(k)) {
    console.error(`--only: unknown server "${k}" (${ALL_TARGETS.join(', ')})`);
    process.exit(64);
  }
}
/** Users a Parley target needs: the biggest room, and one per connect-phase socket. */
const USERS = Math.max(...ROOMS, CONNECTIONS);
const RUN_DEADLINE = Date.now() + MAX_SECONDS * 1000 - 20_000;
/** Time left for a phase: its own cap, within what is left of the run. */
const phaseLeft = (phaseEnd: number): number => Math.max(2_000, Math.min(phaseEnd, RUN_DEADLINE) - Date.now());
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

/** A server ready to be measured: where to connect, who the users are, whose CPU counts. */
interface Target {
  kind: TargetKind;
  name: string;
  proto: Proto;
  wsUrls: string[];
  /** One token per user; user 0 sends, users 1..room-1 receive, the first N hold the connect phase's sockets. */
  tokens: string[];
  /** Room id per room size (Parley's conversation, Centrifugo's channel, Socket.IO's room). */
  rooms: Map<number, string>;
  /** The server's processes, for CPU and RSS from /proc (this process for the in-process ones). */
  pids(): Promise<number[]>;
  /** The server's processes that hold connections (RSS per connection); default pids(). */
  rssPids?(): Promise<number[]>;
  label?(pid: number): string;
  /** The machine's brokers it uses: their CPU counts as its own. */
  brokers?: Broker[];
  setupMs: number;
  /** Parley's full stack: kill -9 of one gateway for the reconnect storm. */
  full?: ParleyFull;
  /** Parley embedded: its SQL database, for --profile. */
  sql?: SqlDatabase;
}

interface RoomResult {
  room: number;
  sender: SenderReport;
  receivers: Merged;
  probe?: { sender: SenderReport; receivers: Merged };
  /** All server processes, summed, during the measured phase (µs). */
  serverCpuUs: number;
  /** The same by process label (multi-process servers). */
  cpuByLabel: Record<string, number>;
  profile?: ProfileSummary;
}

interface ConnectResult {
  sockets: number;
  /** First handshake started → last socket ready. */
  spanUs: number;
  failed?: string;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  storm?: StormReport & { killedAt: string };
}

interface Result {
  kind: TargetKind;
  name: string;
  setupMs: number;
  rooms: RoomResult[];
  connect?: ConnectResult;
  error?: string;
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
    firstUs: started.length ? Math.min(...started.map((r) => r.firstUs)) : NaN,
    lastUs: started.length ? Math.max(...started.map((r) => r.lastUs)) : NaN,
    elu: Math.max(...reports.map((r) => r.elu)),
    closes,
    otherFrames: reports.reduce((n, r) => n + r.otherFrames, 0),
  };
}

/**
 * Waits until the server's processes together use under a tenth of a core over a quarter
 * of a second (what a phase queued, e.g. a worker's backlog, has been done), or 30 s.
 */
async function quiet(pids: Iterable<number>): Promise<void> {
  const list = [...pids];
  const end = Date.now() + 30_000;
  let a = cpuUs(list);
  while (Date.now() < end) {
    await sleep(250);
    const b = cpuUs(list);
    if (cpuDelta(a, b) < 25_000) return;
    a = b;
  }
  // Its CPU is then counted with the phase's: say so rather than let the figure drift.
  console.warn('  (the server did not go quiet within 30 s: its CPU figures for this phase include the wait)');
}

/** One phase: the sender sends `count`; a phase still running after --phase-seconds is cut and reported as is. */
async function runPhase(sender: Client, receivers: Client[], phase: Phase, count: number, window: number): Promise<{ s: SenderReport; r: Merged; cut: boolean }> {
  const end = Date.now() + PHASE_SECONDS * 1000;
  sender.send({ cmd: 'send', phase, count, window });
  const got = await sender.next('sent', phaseLeft(end));
  const reports: ReceiverReport[] = [];
  for (const rc of receivers) {
    // After the last ack, deliveries still in flight get a few more seconds.
    let r = await rc.next('received', got ? Math.max(5_000, phaseLeft(end)) : 1_000);
    if (!r) {
      rc.send({ cmd: 'report', phase }); // what arrived so far
      r = await rc.next('received', 5_000);
    }
    if (!r) throw new Error(`${rc.role}: no report`);
    reports.push(r.report);
  }
  const s: SenderReport = got?.report ?? { phase, acked: 0, errors: 0, firstError: `not finished within --phase-seconds ${PHASE_SECONDS}`, latency: latencyStats(new Float64Array()), firstSendUs: NaN, lastAckUs: NaN };
  return { s, r: merge(reports), cut: !got };
}

async function runRoom(t: Target, room: number, profiler?: Profiler): Promise<RoomResult> {
  const dial: Dial = { proto: t.proto, wsUrls: t.wsUrls, room: t.rooms.get(room)! };
  const tokens = t.tokens.slice(1, room);
  const procs = Math.min(RECEIVER_PROCS, tokens.length);
  const chunk = Math.ceil(tokens.length / procs);
  // Receivers spread over the nodes round-robin; each process's slice starts where the last ended.
  const receivers = Array.from({ length: procs }, (_, i) => ({ c: new Client(`${t.name} receivers #${i + 1}`), tokens: tokens.slice(i * chunk, (i + 1) * chunk), i })).filter((r) => r.tokens.length);
  const sender = new Client(`${t.name} sender`);
  const rcs = receivers.map((r) => r.c);
  try {
    for (const { c, tokens: mine, i } of receivers) {
      // Rotate the URL list so the sockets of all processes together alternate between nodes.
      const offset = (i * chunk) % t.wsUrls.length;
      const wsUrls = [...t.wsUrls.slice(offset), ...t.wsUrls.slice(0, offset)];
      c.send({ cmd: 'receivers', dial: { ...dial, wsUrls }, tokens: mine, perReceiver: { w: WARMUP, m: MESSAGES, l: PROBE }, concurrency: 16 });
    }
    for (const c of rcs) if (!(await c.next('connected', phaseLeft(Date.now() + 180_000)))) throw new Error(`${c.role} did not connect in time`);
    sender.send({ cmd: 'sender', dial, token: t.tokens[0]!, tag: Math.random().toString(36).slice(2, 10) });
    if (!(await sender.next('connected', 60_000))) throw new Error('sender did not connect within 60s');
    await sleep(500); // let connection-time events (presence...) pass

    if (WARMUP > 0) {
      const w = await runPhase(sender, rcs, 'w', WARMUP, WINDOW);
      if (w.s.errors || !w.r.complete) console.warn(`  ${t.name} room ${room} warm-up: ${w.s.errors} errors (${w.s.firstError ?? ''}), ${w.r.delivered}/${w.r.expected} delivered`);
      await sleep(300);
    }

    await profiler?.start();
    const brokers = brokerProcesses(t.brokers ?? []);
    const label = (pid: number) => brokers.get(pid) ?? t.label?.(pid);
    const pids0 = [...(await t.pids()), ...brokers.keys()];
    const cpu0 = cpuUs(pids0);
    const m = await runPhase(sender, rcs, 'm', MESSAGES, WINDOW);
    // Work the phase queued (a worker's backlog of notification jobs) is part of its cost.
    const pids1 = new Set([...pids0, ...(await t.pids())]);
    await quiet(pids1);
    const cpu1 = cpuUs(pids1);
    const cpuByLabel: Record<string, number> = {};
    for (const [pid, us] of cpu1) {
      const l = label(pid);
      if (l) cpuByLabel[l] = (cpuByLabel[l] ?? 0) + us - (cpu0.get(pid) ?? 0);
    }
    const profile = await profiler?.stop();
    let probe: { s: SenderReport; r: Merged } | undefined;
    if (PROBE > 0 && !m.cut) {
      await sleep(300);
      await quiet(pids1); // latency without a queue: nothing of the phase before still running
      probe = await runPhase(sender, rcs, 'l', PROBE, 1);
    }
    return {
      room,
      sender: m.s,
      receivers: m.r,
      serverCpuUs: cpuDelta(cpu0, cpu1),
      cpuByLabel,
      ...(probe ? { probe: { sender: probe.s, receivers: probe.r } } : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    await Promise.all([sender.close(), ...rcs.map((c) => c.close())]);
  }
}

/**
 * The connect phase: N authenticated sockets opened with CONNECT_CONCURRENCY handshakes in
 * flight (spread over the nodes), held idle while the servers' RSS is read, then — on
 * Parley's full stack — kill -9 of gateway 1, its clients reconnecting to gateway 2 at once
 * and resuming.
 */
async function runConnect(t: Target): Promise<ConnectResult> {
  const n = CONNECTIONS;
  const tokens = Array.from({ length: n }, (_, i) => t.tokens[i % t.tokens.length]!);
  const biggest = Math.max(...ROOMS);
  const dial: Dial = { proto: t.proto, wsUrls: t.wsUrls, room: t.rooms.get(biggest)! };
  const procs = Math.min(RECEIVER_PROCS, n);
  const chunk = Math.ceil(n / procs);
  const per = Math.max(1, Math.round(CONNECT_CONCURRENCY / procs));
  await sleep(1_000); // the sockets of the last room are gone
  const rssPids = (): Promise<number[]> => (t.rssPids ? t.rssPids() : t.pids());
  const rssBeforeKiB = rssKiB(await rssPids());
  const clients = Array.from({ length: procs }, (_, i) => ({ c: new Client(`${t.name} connect #${i + 1}`), tokens: tokens.slice(i * chunk, (i + 1) * chunk), i })).filter((r) => r.tokens.length);
  try {
    for (const { c, tokens: mine, i } of clients) {
      const offset = (i * chunk) % t.wsUrls.length;
      c.send({ cmd: 'conns', dial: { ...dial, wsUrls: [...t.wsUrls.slice(offset), ...t.wsUrls.slice(0, offset)] }, tokens: mine, concurrency: per });
    }
    let first = Infinity;
    let last = 0;
    let failed: string | undefined;
    for (const { c } of clients) {
      try {
        const r = await c.next('connected', phaseLeft(Date.now() + PHASE_SECONDS * 1000));
        if (!r) throw new Error(`not all connected within --phase-seconds ${PHASE_SECONDS}`);
        first = Math.min(first, r.firstUs);
        last = Math.max(last, r.lastUs);
      } catch (err) {
        failed ??= err instanceof Error ? err.message : String(err);
      }
    }
    if (failed) return { sockets: n, spanUs: NaN, failed, rssBeforeKiB, rssAfterKiB: NaN };
    await sleep(3_000); // idle: connect-time work (presence, subscriptions) settles
    const rssAfterKiB = rssKiB(await rssPids());
    const out: ConnectResult = { sockets: n, spanUs: last - first, rssBeforeKiB, rssAfterKiB };
    if (t.full) {
      const dead = t.full.gateways[0]!;
      // Members resume from the room's last seq, as a client that saw everything does (nothing to replay).
      const conv = await call(t.full.apiUrl, 'GET', `/v1/conversations/${dial.room}`, { token: t.tokens[0]! });
      const lastSeq = conv.status === 200 && typeof conv.body.lastSeq === 'number' ? (conv.body.lastSeq as number) : 0;
      const plan = { deadUrl: t.wsUrls[0]!, aliveUrl: t.wsUrls[1]!, members: biggest, lastSeq, deadlineMs: Date.now() + PHASE_SECONDS * 1000 };
      for (const { c } of clients) c.send({ cmd: 'storm', plan });
      for (const { c } of clients) if (!(await c.next('armed', 10_000))) throw new Error(`${c.role}: not armed for the storm`);
      await dead.kill9();
      const reports: StormReport[] = [];
      for (const { c } of clients) {
        const r = await c.next('storm', phaseLeft(plan.deadlineMs + 10_000));
        if (r) reports.push(r.report);
      }
      out.storm = {
        killedAt: dead.name,
        dropped: reports.reduce((a, r) => a + r.dropped, 0),
        resumed: reports.reduce((a, r) => a + r.resumed, 0),
        failed: reports.reduce((a, r) => a + r.failed, 0),
        ...(reports.find((r) => r.firstError)?.firstError ? { firstError: reports.find((r) => r.firstError)!.firstError! } : {}),
        spanUs: Math.max(0, ...reports.map((r) => r.spanUs)),
      };
    }
    return out;
  } finally {
    await Promise.all(clients.map(({ c }) => c.close()));
  }
}

async function measure(t: Target): Promise<Result> {
  const res: Result = { kind: t.kind, name: t.name, setupMs: t.setupMs, rooms: [] };
  for (const room of ROOMS) {
    process.stdout.write(` room ${room}`);
    res.rooms.push(await runRoom(t, room, opts.profile && t.sql ? makeProfiler(t.sql) : undefined));
  }
  if (CONNECTIONS > 0) {
    process.stdout.write(` connect ${CONNECTIONS}`);
    res.connect = await runConnect(t);
  }
  return res;
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

const PARLEY_ENV = {
  RATE_LIMIT_WS_SEND: '1000000/1s',
  RATE_LIMIT_WS_TYPING: '1000000/1s',
  GROUP_MEMBER_LIMIT: String(Math.max(1000, ...ROOMS)),
  // The full-stack runs share one set of users (signups are argon2: minutes); their tokens
  // must outlive the whole run.
  ACCESS_TOKEN_TTL: '6h',
};

/** Signs up `USERS` users through the API (argon2: a few at a time) and returns their tokens. */
async function parleyUsers(apiUrl: string, cache: { tokens?: string[]; ids?: string[] }): Promise<{ tokens: string[]; ids: string[] }> {
  if (cache.tokens && cache.ids) return { tokens: cache.tokens, ids: cache.ids };
  const users = await mapLimit(Array.from({ length: USERS }, (_, i) => i), 8, (i) => signup(apiUrl, i === 0 ? 'sender' : 'rcv'));
  cache.tokens = users.map((u) => u.accessToken);
  cache.ids = users.map((u) => u.id);
  return { tokens: cache.tokens, ids: cache.ids };
}

/** One group per room size: user 0 owns it, users 1..size-1 are added in batches of 1000. */
async function parleyRooms(apiUrl: string, tokens: string[], ids: string[]): Promise<Map<number, string>> {
  const rooms = new Map<number, string>();
  for (const size of ROOMS) {
    const conv = await call(apiUrl, 'POST', '/v1/conversations', { token: tokens[0]!, body: { type: 'group', title: `bench ${size}`, memberIds: [] } });
    if (conv.status !== 201) throw new Error(`create group: ${conv.status} ${JSON.stringify(conv.body)}`);
    const id = conv.body.id as string;
    const others = ids.slice(1, size);
    for (let i = 0; i < others.length; i += 1000) {
      const r = await call(apiUrl, 'POST', `/v1/conversations/${id}/members`, { token: tokens[0]!, body: { userIds: others.slice(i, i + 1000) } });
      if (r.status !== 200) throw new Error(`add members: ${r.status} ${JSON.stringify(r.body)}`);
    }
    rooms.set(size, id);
  }
  return rooms;
}

/** Runs `fn` against the server `kind`, set up and torn down around it. */
async function withTarget<R>(kind: TargetKind, shared: { infra?: ParleyInfra; users: { tokens?: string[]; ids?: string[] } }, fn: (t: Target) => Promise<R>): Promise<R> {
  const t0 = Date.now();
  const name = TARGET_NAMES[kind];
  const self = async (): Promise<number[]> => [process.pid];
  let stack: { stop(): Promise<void>; dataDir?: string } | undefined;
  try {
    let t: Target;
    if (kind === 'embedded') {
      const server: TestServer = await startTestServer({ sql: 'pglite', env: { ...PARLEY_ENV, LOG_LEVEL: 'silent', SHUTDOWN_GRACE: '2s' } });
      stack = { stop: () => server.stop(), dataDir: server.dataDir };
      servers.add(stack);
      const { tokens, ids } = await parleyUsers(server.url, {});
      t = { kind, name, proto: 'parley', wsUrls: [server.wsUrl], tokens, rooms: await parleyRooms(server.url, tokens, ids), pids: self, setupMs: 0, sql: server.parley.platform.sql };
    } else if (kind === 'full' || kind === 'full-mongo' || kind === 'full-mongo-sqlite') {
      if (!shared.infra) {
        shared.infra = await parleyInfra(PARLEY_ENV);
        servers.add({ stop: shared.infra.drop }); // dropped on abort too
      }
      const full = await startParleyFull(shared.infra, kind === 'full' ? null : { handler: kind === 'full-mongo' ? 'postgresql' : 'sqlite' });
      stack = full;
      servers.add(stack);
      // The runs of the full stack share the PostgreSQL database (users); each has its own rooms.
      const { tokens, ids } = await parleyUsers(full.apiUrl, shared.users);
      t = { kind, name, proto: 'parley', wsUrls: full.wsUrls, tokens, rooms: await parleyRooms(full.apiUrl, tokens, ids), pids: () => full.pids(), rssPids: () => full.rssPids!(), label: (pid) => full.label!(pid), brokers: ['redis', 'rabbitmq'], setupMs: 0, full };
    } else if (kind === 'centrifugo' || kind === 'centrifugo-history' || kind === 'socketio') {
      const s: Stack = kind === 'socketio' ? await startSocketIo() : await startCentrifugo(kind === 'centrifugo-history');
      stack = s;
      servers.add(stack);
      const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => peerToken(`u${i}`)));
      t = { kind, name, proto: kind === 'socketio' ? 'socketio' : 'centrifugo', wsUrls: s.wsUrls, tokens, rooms: new Map(ROOMS.map((r) => [r, `room${r}`])), pids: () => s.pids(), label: (pid) => s.label!(pid), brokers: ['redis'], setupMs: 0 };
    } else {
      const peer = await startPeer(kind);
      stack = peer;
      servers.add(stack);
      t = { kind, name, proto: 'parley', wsUrls: [peer.wsUrl], tokens: Array.from({ length: USERS }, (_, i) => `u${i}`), rooms: new Map(ROOMS.map((r) => [r, 'bench'])), pids: self, setupMs: 0 };
    }
    t.setupMs = Date.now() - t0;
    return await fn(t);
  } finally {
    if (stack) {
      await stack.stop().catch((err: unknown) => console.warn(`  ${name}: stop failed: ${String(err)}`));
      servers.delete(stack);
    }
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
const loadavg = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** The numbers of one room, derived. */
interface Derived {
  deliveriesPerSec: number;
  msgsPerSec: number;
  delivery: LatencyStats;
  probeDelivery?: LatencyStats;
  /** send → ack of the probe's messages (the sender's own wait, before any fan-out). */
  probeAck?: LatencyStats;
  cpuMsPer1000: number;
  lost: number;
  cut: boolean;
}

function derive(r: RoomResult): Derived {
  const deliverySpanUs = r.receivers.lastUs - r.sender.firstSendUs;
  const ackSpanUs = r.sender.lastAckUs - r.sender.firstSendUs;
  const lost = r.receivers.expected - r.receivers.delivered + (r.probe ? r.probe.receivers.expected - r.probe.receivers.delivered : 0);
  return {
    deliveriesPerSec: deliverySpanUs > 0 ? r.receivers.delivered / (deliverySpanUs / 1e6) : NaN,
    msgsPerSec: ackSpanUs > 0 ? r.sender.acked / (ackSpanUs / 1e6) : NaN,
    delivery: r.receivers.latency,
    ...(r.probe ? { probeDelivery: r.probe.receivers.latency, probeAck: r.probe.sender.latency } : {}),
    cpuMsPer1000: r.receivers.delivered ? r.serverCpuUs / 1000 / (r.receivers.delivered / 1000) : NaN,
    lost,
    cut: r.sender.acked + r.sender.errors < MESSAGES,
  };
}

const connPerSec = (c?: ConnectResult): number => (c && Number.isFinite(c.spanUs) && c.spanUs > 0 ? c.sockets / (c.spanUs / 1e6) : NaN);
/** NaN when RSS went down: the heap shrank more (GC after the room phases) than the sockets added, so the run measured nothing. */
const rssPerConn = (c?: ConnectResult): number => (c && Number.isFinite(c.rssAfterKiB) && c.rssAfterKiB >= c.rssBeforeKiB ? (c.rssAfterKiB - c.rssBeforeKiB) / c.sockets : NaN);

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

const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(a / b < 0.1 ? 3 : 2)}×` : '—');

function report(results: Result[], load0: string, cpuModel: string): void {
  const ok = results.filter((r) => !r.error);
  const d = new Map(ok.map((r) => [r.kind, r.rooms.map(derive)]));
  const roomOf = (r: Result, room: number): { r: RoomResult; d: Derived } | undefined => {
    const i = r.rooms.findIndex((x) => x.room === room);
    return i < 0 ? undefined : { r: r.rooms[i]!, d: d.get(r.kind)![i]! };
  };
  const rows: string[][] = [['', ...ok.map((r) => r.name)]];
  for (const room of ROOMS) {
    const cell = (f: (x: { r: RoomResult; d: Derived }) => string): string[] => ok.map((r) => { const x = roomOf(r, room); return x ? f(x) : '—'; });
    rows.push(
      [`room ${room}: deliveries/s`, ...cell((x) => int(x.d.deliveriesPerSec) + (x.d.cut ? ' (cut)' : ''))],
      [`room ${room}: messages/s`, ...cell((x) => int(x.d.msgsPerSec))],
      [`room ${room}: delivery p50 ms, ${WINDOW} in flight`, ...cell((x) => ms(x.d.delivery.p50))],
      [`room ${room}: delivery p99 ms, ${WINDOW} in flight`, ...cell((x) => ms(x.d.delivery.p99))],
      ...(PROBE > 0
        ? [
            [`room ${room}: delivery p50 ms, 1 in flight`, ...cell((x) => ms(x.d.probeDelivery?.p50 ?? NaN))],
            [`room ${room}: delivery p99 ms, 1 in flight`, ...cell((x) => ms(x.d.probeDelivery?.p99 ?? NaN))],
            [`room ${room}: ack p50 ms, 1 in flight`, ...cell((x) => ms(x.d.probeAck?.p50 ?? NaN))],
          ]
        : []),
      [`room ${room}: server CPU ms per 1,000 deliveries`, ...cell((x) => (Number.isFinite(x.d.cpuMsPer1000) ? x.d.cpuMsPer1000.toFixed(1) : '—'))],
      [`room ${room}: messages lost`, ...cell((x) => String(x.d.lost))],
      [`room ${room}: send errors`, ...cell((x) => String(x.r.sender.errors + (x.r.probe?.sender.errors ?? 0)))],
      [`room ${room}: receiver process loop busy`, ...cell((x) => `${(x.r.receivers.elu * 100).toFixed(0)}%`)],
    );
  }
  if (CONNECTIONS > 0) {
    rows.push(
      [`connect ${CONNECTIONS}: connections/s`, ...ok.map((r) => (r.connect?.failed ? 'failed' : int(connPerSec(r.connect))))],
      [`connect ${CONNECTIONS}: seconds`, ...ok.map((r) => (r.connect && Number.isFinite(r.connect.spanUs) ? (r.connect.spanUs / 1e6).toFixed(1) : '—'))],
      [`RSS KiB per idle connection at ${CONNECTIONS}`, ...ok.map((r) => (Number.isFinite(rssPerConn(r.connect)) ? rssPerConn(r.connect).toFixed(1) : r.connect && r.connect.rssAfterKiB < r.connect.rssBeforeKiB ? 'heap shrank' : '—'))],
      ['reconnect storm: resumed / dropped', ...ok.map((r) => (r.connect?.storm ? `${r.connect.storm.resumed}/${r.connect.storm.dropped}` : '—'))],
      ['reconnect storm: seconds', ...ok.map((r) => (r.connect?.storm ? (r.connect.storm.spanUs / 1e6).toFixed(1) : '—'))],
    );
  }
  rows.push(['setup s', ...ok.map((r) => (r.setupMs / 1000).toFixed(1))]);
  console.log('');
  console.log(table(rows));
  for (const r of results) {
    if (r.error) console.log(`  ${r.name}: FAILED: ${r.error}`);
    for (const x of r.rooms) {
      const closes = Object.entries(x.receivers.closes);
      if (closes.length) console.log(`  ${r.name} room ${x.room}: receiver sockets closed by the server: ${closes.map(([c, n]) => `${n}×${c}`).join(', ')}`);
      if (x.sender.firstError) console.log(`  ${r.name} room ${x.room}: first send error: ${x.sender.firstError}`);
    }
    if (r.connect?.failed) console.log(`  ${r.name}: connect phase: ${r.connect.failed}`);
    if (r.connect?.storm?.firstError) console.log(`  ${r.name}: reconnect storm: first error: ${r.connect.storm.firstError}`);
  }

  // Where the multi-process servers' CPU went, by process, in the largest room.
  const split = ok.map((r) => ({ r, x: [...r.rooms].reverse().find((x) => Object.keys(x.cpuByLabel).length) })).filter((e) => e.x);
  if (split.length) {
    console.log('\nServer CPU by process, ms per 1,000 deliveries (the last room measured)');
    for (const { r, x } of split) {
      const per = (us: number): string => (x!.receivers.delivered ? ((us / 1000) * (1000 / x!.receivers.delivered)).toFixed(1) : '—');
      const parts = Object.entries(x!.cpuByLabel).sort((a, b) => b[1] - a[1]).map(([k, us]) => `${k} ${per(us)}`);
      console.log(`  ${r.name}, room ${x!.room}: ${parts.join(', ')}`);
    }
  }

  // Ratios: every Parley variant against every peer.
  const parleys = ok.filter((r) => r.kind === 'embedded' || r.kind.startsWith('full'));
  const peers = ok.filter((r) => !parleys.includes(r));
  const dp = (r: Result, room: number, f: (x: Derived) => number): number => { const x = roomOf(r, room); return x ? f(x.d) : NaN; };
  if (parleys.length && peers.length) {
    console.log('\nRatios, Parley ÷ peer (throughput: below 1× = Parley slower; latency, CPU, RSS: above 1× = Parley slower / costs more)');
    const rrows: string[][] = [['', ...peers.map((p) => `vs ${p.name}`)]];
    for (const p of parleys) {
      for (const room of ROOMS) {
        rrows.push([`${p.name}, room ${room}: deliveries/s`, ...peers.map((q) => ratio(dp(p, room, (x) => x.deliveriesPerSec), dp(q, room, (x) => x.deliveriesPerSec)))]);
        if (PROBE > 0) rrows.push([`${p.name}, room ${room}: 1-in-flight p99`, ...peers.map((q) => ratio(dp(p, room, (x) => x.probeDelivery?.p99 ?? NaN), dp(q, room, (x) => x.probeDelivery?.p99 ?? NaN)))]);
        rrows.push([`${p.name}, room ${room}: CPU per delivery`, ...peers.map((q) => ratio(dp(p, room, (x) => x.cpuMsPer1000), dp(q, room, (x) => x.cpuMsPer1000)))]);
      }
      if (CONNECTIONS > 0) {
        rrows.push([`${p.name}: connections/s`, ...peers.map((q) => ratio(connPerSec(p.connect), connPerSec(q.connect)))]);
        rrows.push([`${p.name}: RSS per connection`, ...peers.map((q) => ratio(rssPerConn(p.connect), rssPerConn(q.connect)))]);
      }
    }
    console.log(table(rrows));
  }

  // The targets of issues 9 and 16, checked against this run.
  const full = ok.find((r) => r.kind === 'full');
  const mongo = ok.find((r) => r.kind === 'full-mongo') ?? ok.find((r) => r.kind === 'full-mongo-sqlite');
  const cfh = ok.find((r) => r.kind === 'centrifugo-history');
  const cf = ok.find((r) => r.kind === 'centrifugo');
  const sio = ok.find((r) => r.kind === 'socketio');
  if (full) {
    const lines: [string, string][] = [];
    const check = (label: string, value: number, want: number, higherIsBetter = true): void => {
      if (!Number.isFinite(value)) return void lines.push([label, 'not measured']);
      const met = higherIsBetter ? value >= want : value <= want;
      lines.push([label, `${value.toFixed(2)} ${met ? 'met' : 'NOT met'}`]);
    };
    for (const room of ROOMS) {
      const f = dp(full, room, (x) => x.deliveriesPerSec);
      if (cfh) check(`full-stack deliveries/s ÷ Centrifugo+history, room ${room} (≥ 1.0)`, f / dp(cfh, room, (x) => x.deliveriesPerSec), 1);
      if (sio) check(`full-stack deliveries/s ÷ Socket.IO, room ${room} (≥ 2.0)`, f / dp(sio, room, (x) => x.deliveriesPerSec), 2);
      if (mongo) check(`Mongo-store ÷ PostgreSQL-store full stack, messages/s, room ${room} (≥ 0.5)`, dp(mongo, room, (x) => x.msgsPerSec) / dp(full, room, (x) => x.msgsPerSec), 0.5);
    }
    if (PROBE > 0 && ROOMS.includes(100)) check('full-stack 1-in-flight delivery p99 ms, room 100 (≤ 10)', dp(full, 100, (x) => (x.probeDelivery?.p99 ?? NaN) / 1000), 10, false);
    if (CONNECTIONS > 0) {
      if (cf) check('full-stack RSS per idle connection ÷ Centrifugo\'s (≤ 1.0)', rssPerConn(full.connect) / rssPerConn(cf.connect), 1, false);
      if (sio) check('full-stack connections/s ÷ Socket.IO\'s (≥ 1.0)', connPerSec(full.connect) / connPerSec(sio.connect), 1);
      const s = full.connect?.storm;
      lines.push(['reconnect storm: every dropped client resumed', s ? `${s.resumed}/${s.dropped} ${s.resumed === s.dropped && s.dropped > 0 ? 'met' : 'NOT met'}` : 'not measured']);
    }
    const lost = full.rooms.reduce((a, _, i) => a + d.get('full')![i]!.lost, 0);
    lines.push(['full stack: zero messages lost', `${lost} ${lost === 0 ? 'met' : 'NOT met'}`]);
    console.log('\nTargets (issues 9 and 16)');
    console.log(table(lines.map(([a, b]) => [a, b])));
  }

  console.log(`\nloadavg before ${load0}, after ${loadavg()} (${os.cpus().length} CPUs: ${cpuModel}). Server CPU: all the server's processes from /proc (Parley full: API, gateways, worker, FerretDB and its PostgreSQL backends), and the machine's Redis (Parley full, Centrifugo, Socket.IO) and RabbitMQ (Parley full), which only the stack under test uses during its phases.`);

  const prof = ok.flatMap((r) => r.rooms).find((x) => x.profile);
  if (prof?.profile) printProfile(prof.profile, prof.sender.acked || 1);
}

function printProfile(prof: ProfileSummary, n: number): void {
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const busy = prof.byArea.filter((a) => a.area !== 'idle').reduce((s, a) => s + a.ms, 0) || 1;
  console.log(`\nWhere Parley embedded spent its first measured phase (${prof.totalMs.toFixed(0)} ms sampled; profile: ${prof.file})`);
  console.log(table([['area', 'ms', 'of busy'], ...prof.byArea.map((a) => [a.area, a.ms.toFixed(0), a.area === 'idle' ? '' : pct(a.ms / busy)])]));
  console.log('\nTop functions by self time');
  console.log(table([['function', 'ms', 'where'], ...prof.topFunctions.map((f) => [f.fn, f.ms.toFixed(0), f.where])], [0, 2]));
  const total = prof.sql.reduce((a, r) => a + r.count, 0);
  console.log(`\nSQL statements: ${(total / n).toFixed(1)} per message sent (${total} in all), ${(prof.transactions / n).toFixed(1)} transactions per message; wall ms includes waiting for PGlite, which runs one statement at a time`);
  console.log(table([['per msg', 'wall ms', 'statement'], ...prof.sql.slice(0, 20).map((r) => [(r.count / n).toFixed(2), r.ms.toFixed(0), r.statement])], [2]));
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
    `Fan-out: 1 sender → rooms of ${ROOMS.join(', ')} (members), ${MESSAGES} messages (+${WARMUP} warm-up) ${WINDOW} in flight, then ${PROBE} one at a time; ` +
      `connect phase ${CONNECTIONS} sockets (${CONNECT_CONCURRENCY} in flight); Node ${process.version}, ${os.cpus().length} CPUs (${cpuModel}); loadavg ${load0}`,
  );
  const results: Result[] = [];
  const shared: { infra?: ParleyInfra; users: { tokens?: string[]; ids?: string[] } } = { users: {} };
  try {
    for (const kind of ALL_TARGETS) {
      if (!ONLY.includes(kind)) continue;
      // With MONGODB_URL, 'full-mongo' is that server; there is no second FerretDB variant to run.
      if (kind === 'full-mongo-sqlite' && process.env.MONGODB_URL) continue;
      process.stdout.write(`${TARGET_NAMES[kind]} ...`);
      const t0 = Date.now();
      try {
        results.push(await withTarget(kind, shared, (t) => measure(t)));
        console.log(` done (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      } catch (err) {
        if (aborting) return;
        const message = err instanceof Error ? err.message : String(err);
        console.log(` FAILED: ${message.split('\n')[0]}`);
        results.push({ kind, name: TARGET_NAMES[kind], setupMs: Date.now() - t0, rooms: [], error: message.split('\n').slice(0, 3).join(' | ') });
      }
    }
  } finally {
    await shared.infra?.drop();
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
