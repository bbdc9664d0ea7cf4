/**
 * The real servers of bench/fanout.ts, each run as its own OS processes on 127.0.0.1, two
 * nodes each on the machine's Redis (a key prefix of their own), so that a message always
 * crosses Redis between the nodes:
 *
 * - Centrifugo v6 (scripts/centrifugo.sh builds and caches it), without and with history +
 *   recovery in the channel;
 * - Socket.IO 4.8 with @socket.io/redis-adapter (bench/socketio-node.ts);
 * - Parley's full stack: 1 API, 2 WebSocket gateways and 1 worker (`src/cli.ts serve
 *   --roles ...`) on a PostgreSQL database, Redis and a RabbitMQ vhost of their own, with
 *   messages in PostgreSQL or in MongoDB (FerretDB, started here, or MONGODB_URL).
 *
 * Also the /proc readers the report uses: CPU time and RSS of a set of processes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { SignJWT } from 'jose';
import { Redis } from 'ioredis';
import { CONFIG_SPEC } from '../src/config.js';
import { TEST_JWT_SECRET } from '../test/harness.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { startFerretDB, type FerretHandler, type MongoTestServer } from '../test/support/ferretdb.js';
import { canConnect, freeLoopbackPort, killOnExit, sleep, waitExit } from '../test/support/process.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const execFileP = promisify(execFile);
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const START_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------
// /proc

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system, µs) of each process in `pids` that is still there. */
export function cpuUs(pids: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (2nd field) may hold spaces: count fields after its closing ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS_PER_SECOND); // utime, stime (fields 14, 15)
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The machine's shared brokers a stack may use: its Redis and RabbitMQ. */
export type Broker = 'redis' | 'rabbitmq';
const BROKER_COMMANDS: Record<string, Broker> = { 'redis-server': 'redis', 'beam.smp': 'rabbitmq' };

/**
 * The processes of the brokers named, by pid, found by command name in /proc. Only the
 * stack under test uses them while it runs, so their CPU is part of its cost: a stack
 * that needs RabbitMQ beside Redis pays for both.
 */
export function brokerProcesses(brokers: readonly Broker[]): Map<number, Broker> {
  const out = new Map<number, Broker>();
  if (brokers.length === 0) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const b = BROKER_COMMANDS[readFileSync(`/proc/${d}/comm`, 'utf8').trim()];
      if (b && brokers.includes(b)) out.set(Number(d), b);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU used between two `cpuUs` readings, over the processes of both (one that started later counts from 0). */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let us = 0;
  for (const [pid, t] of after) us += t - (before.get(pid) ?? 0);
  return us;
}

/** Resident set size (KiB), summed over `pids`. */
export function rssKiB(pids: Iterable<number>): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return kib;
}

// ---------------------------------------------------------------------------------------
// Processes

/** A server process of the bench: killed with SIGKILL if the bench exits first. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

function spawnProc(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; readyLine: RegExp }): Promise<Proc> {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let out = '';
  const collect = (d: Buffer): void => {
    out = (out + d.toString()).slice(-200_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const proc: Proc = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if (!(await waitExit(child, 10_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    },
    async kill9() {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    },
  };
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000}s:\n${out.slice(-3000)}`));
    }, START_TIMEOUT_MS);
    const check = (): void => {
      if (opts.readyLine.test(out)) {
        clearTimeout(deadline);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        resolve(proc);
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      reject(new Error(`${name} exited during start-up (${signal ?? code}):\n${out.slice(-3000)}`));
    });
  });
}

/** A server of the bench: where to connect, what to measure, how to stop. */
export interface Stack {
  /** WebSocket URLs, one per node (the load generator spreads sockets over them). */
  wsUrls: string[];
  /** The processes whose CPU is the server's (read from /proc). */
  pids(): Promise<number[]>;
  /** What each pid is, for the CPU breakdown ("ws1", "ferretdb", "postgres"...). */
  label?(pid: number): string;
  /** The processes that hold the connections, whose RSS is read in the connect phase (default: pids()). */
  rssPids?(): Promise<number[]>;
  stop(): Promise<void>;
}

/** An HS256 JWT with `sub`, as Centrifugo and the Socket.IO peer verify it. */
export function peerToken(sub: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** Deletes the keys under `prefix` on the machine's Redis (bounded SCAN). */
async function dropRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await r.connect();
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await r.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } catch {
    /* best effort */
  } finally {
    r.disconnect();
  }
}

// ---------------------------------------------------------------------------------------
// Centrifugo

let centrifugoBin: Promise<string> | undefined;

/** The cached Centrifugo binary (scripts/centrifugo.sh builds it on first use: minutes). */
export function ensureCentrifugo(): Promise<string> {
  centrifugoBin ??= execFileP('bash', [join(REPO_ROOT, 'scripts/centrifugo.sh'), 'path'], { timeout: 30 * 60_000, maxBuffer: 1 << 20 }).then(
    (r) => r.stdout.trim().split('\n').pop()!,
    (err: { stderr?: string; message: string }) => {
      throw new Error(`scripts/centrifugo.sh failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ')}`);
    },
  );
  return centrifugoBin;
}

/**
 * Two Centrifugo nodes on the Redis engine (one key prefix for this run). Clients connect
 * with a JWT, subscribe and publish themselves (`allow_*_for_client`). With `history`, every
 * publication is also kept in a Redis stream (size/TTL bounded) and subscribers can recover
 * what they missed (`force_recovery`), which is the closest Centrifugo comes to storing
 * messages as Parley does.
 */
export async function startCentrifugo(history: boolean): Promise<Stack> {
  const bin = await ensureCentrifugo();
  const dir = mkdtempSync(join(os.tmpdir(), 'parley-bench-centrifugo-'));
  const prefix = `bench-cf-${randomBytes(4).toString('hex')}`;
  const procs: Proc[] = [];
  try {
    for (let n = 0; n < 2; n++) {
      const port = await freeLoopbackPort();
      const config = {
        http_server: { address: '127.0.0.1', port, internal_address: '127.0.0.1', internal_port: String(await freeLoopbackPort()) },
        log: { level: 'info' }, // the start-up line says when it serves; nothing per connection at info
        client: { token: { hmac_secret_key: TEST_JWT_SECRET }, allowed_origins: ['*'] },
        engine: { type: 'redis', redis: { address: [REDIS_URL], prefix } },
        channel: {
          without_namespace: {
            allow_subscribe_for_client: true,
            allow_publish_for_client: true,
            ...(history ? { history_size: 10_000, history_ttl: '600s', force_recovery: true } : {}),
          },
        },
        usage_stats: { disabled: true },
        admin: { enabled: false },
        http_api: { disabled: true },
      };
      const file = join(dir, `node${n}.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      procs.push(await spawnProc(`centrifugo ${n + 1}`, bin, ['--config', file], { cwd: dir, readyLine: /serving websocket endpoints/ }));
      // The log line comes before the listener in some versions: wait for the port too.
      for (let i = 0; i < 100 && !(await canConnect(port)); i++) await sleep(100);
      (procs.at(-1) as Proc & { port?: number }).port = port;
    }
  } catch (err) {
    for (const p of procs) await p.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    wsUrls: procs.map((p) => `ws://127.0.0.1:${(p as Proc & { port?: number }).port}/connection/websocket`),
    pids: async () => procs.map((p) => p.pid),
    label: (pid) => procs.find((p) => p.pid === pid)?.name ?? String(pid),
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
      await dropRedisPrefix(prefix);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Socket.IO

/** Two Socket.IO 4.8 nodes (bench/socketio-node.ts) sharing rooms through @socket.io/redis-adapter. */
export async function startSocketIo(): Promise<Stack> {
  const key = `bench-sio-${randomBytes(4).toString('hex')}`;
  const procs: Proc[] = [];
  const ports: number[] = [];
  try {
    for (let n = 0; n < 2; n++) {
      const port = await freeLoopbackPort();
      procs.push(
        await spawnProc(`socket.io ${n + 1}`, process.execPath, ['--import', 'tsx', 'bench/socketio-node.ts'], {
          env: { ...process.env, PORT: String(port), REDIS_URL, REDIS_KEY: key, JWT_SECRET: TEST_JWT_SECRET },
          readyLine: /^listening \d+/m,
        }),
      );
      ports.push(port);
    }
  } catch (err) {
    for (const p of procs) await p.stop();
    throw err;
  }
  return {
    wsUrls: ports.map((p) => `ws://127.0.0.1:${p}/socket.io/`),
    pids: async () => procs.map((p) => p.pid),
    label: (pid) => procs.find((p) => p.pid === pid)?.name ?? String(pid),
    async stop() {
      await Promise.all(procs.map((p) => p.stop()));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Parley's full stack

/** rabbitmqctl, bounded. */
async function rabbitmqctl(...args: string[]): Promise<void> {
  await execFileP('rabbitmqctl', ['--quiet', ...args], { timeout: 60_000, killSignal: 'SIGKILL' });
}

/** What the Parley full-stack runs share: the PostgreSQL database (users), the Redis prefix, the vhost. */
export interface ParleyInfra {
  databaseUrl: string;
  env: Record<string, string>;
  /** Databases whose PostgreSQL backends count as the server's CPU. */
  databases: string[];
  drop(): Promise<void>;
}

/** A fresh PostgreSQL database, Redis key prefix and RabbitMQ vhost (or queue prefix) for the full stack. */
export async function parleyInfra(extraEnv: Record<string, string>): Promise<ParleyInfra> {
  const db = await createTestDatabase();
  const vhost = `parley_bench_${randomBytes(4).toString('hex')}`;
  let amqpUrl = AMQP_URL;
  let dropVhost = async (): Promise<void> => {};
  try {
    await rabbitmqctl('add_vhost', vhost);
    await rabbitmqctl('set_permissions', '-p', vhost, new URL(AMQP_URL).username || 'guest', '.*', '.*', '.*');
    const u = new URL(AMQP_URL);
    u.pathname = `/${encodeURIComponent(vhost)}`;
    amqpUrl = u.toString();
    dropVhost = () => rabbitmqctl('delete_vhost', vhost).catch(() => {});
  } catch {
    /* no rabbitmqctl: the default vhost, queues told apart by AMQP_QUEUE_PREFIX */
  }
  const redisPrefix = `bench-parley-${randomBytes(4).toString('hex')}:`;
  const dataDir = mkdtempSync(join(os.tmpdir(), 'parley-bench-full-'));
  // Only this run's settings: none of the caller's Parley variables leak in.
  const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !(e[0] in CONFIG_SPEC)));
  Object.assign(env, {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: redisPrefix,
    AMQP_URL: amqpUrl,
    AMQP_QUEUE_PREFIX: `bench_${randomBytes(4).toString('hex')}`,
    SHUTDOWN_GRACE: '2s',
    RATE_LIMIT_SIGNUP_IP: '1000000/10m',
    RATE_LIMIT_LOGIN_IP: '1000000/10m',
    ...extraEnv,
  });
  return {
    databaseUrl: db.url,
    env,
    databases: [db.name],
    async drop() {
      await db.drop().catch(() => {});
      await dropVhost();
      await dropRedisPrefix(redisPrefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ParleyFull extends Stack {
  apiUrl: string;
  gateways: Proc[];
  /** Where messages live, for the report. */
  store: string;
}

/** PIDs of the PostgreSQL backends connected to `databases` right now. */
async function pgBackends(databases: string[]): Promise<number[]> {
  const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  try {
    await c.connect();
    const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()', [databases]);
    return r.rows.map((row) => row.pid);
  } catch {
    return [];
  } finally {
    await c.end().catch(() => {});
  }
}

/** Rows of history `seedHistory` writes: messages, and three processed jobs and one relayed outbox row per message. */
export const SEED_MESSAGES = 100_000;

/**
 * Gives the bench's new database the history a database in use has (bench/README.md, "A
 * database with a history"): messages of an old conversation, the processed jobs and
 * relayed outbox rows they left, then ANALYZE. Without it every table starts empty and
 * PostgreSQL plans the first statements for empty tables: a prepared statement keeps such a
 * plan (a sequential scan) while its table grows through the run, until autovacuum's next
 * ANALYZE (up to a minute on a new database): a cold start, not the steady state measured.
 */
async function seedHistory(databaseUrl: string, opts: { messages: boolean }): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const n = SEED_MESSAGES;
    // What a message's jobs leave there: its device pushes, one row per device.
    await c.query(`INSERT INTO processed_jobs (id, kind, payload, processed_at)
      SELECT k || ':seed-' || g || '#device:seed-' || d, k, NULL, now() FROM generate_series(1, $1::int) g, unnest(ARRAY['notify.push', 'notify.background']) k, generate_series(1, 2) d`, [n]);
    await c.query(`INSERT INTO outbox (id, kind, payload, created_at, relayed_at)
      SELECT 'message.sent:seed-' || g, 'message.sent', '{}'::jsonb, now(), now() FROM generate_series(1, $1::int) g`, [n]);
    if (opts.messages) {
      await c.query(`INSERT INTO messages (id, conversation_id, seq, rev, sender_id, client_msg_id, kind, text, created_at, updated_at)
        SELECT 'seed-' || g, 'seed-conversation-' || (g % 100), g, g, 'seed-user', 'seed-' || g, 'user', 'an older message, number ' || g, now() - interval '30 days', now() - interval '30 days'
          FROM generate_series(1, $1::int) g`, [n]);
    }
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

/**
 * Parley as `start:fullstack` runs it, minus Nginx (the load generator spreads sockets over
 * the two gateways itself): `mongo` puts messages in MongoDB — FerretDB started here with
 * the given handler, or MONGODB_URL — instead of PostgreSQL.
 */
export async function startParleyFull(infra: ParleyInfra, mongo: { handler: FerretHandler } | null): Promise<ParleyFull> {
  const cleanups: (() => Promise<void>)[] = [];
  const extraDbs: string[] = [];
  const procs: Proc[] = [];
  let ferret: MongoTestServer | null = null;
  let store = 'PostgreSQL';
  const stopAll = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const env = { ...infra.env };
    if (mongo) {
      if (process.env.MONGODB_URL) {
        store = 'MongoDB (MONGODB_URL)';
        env.MONGODB_URL = process.env.MONGODB_URL;
      } else {
        let pgUrl: string | undefined;
        if (mongo.handler === 'postgresql') {
          const fdb = await createTestDatabase();
          cleanups.push(() => fdb.drop());
          extraDbs.push(fdb.name);
          pgUrl = fdb.url;
        }
        ferret = await startFerretDB({ handler: mongo.handler, ...(pgUrl ? { postgresqlUrl: pgUrl } : {}) });
        if (!ferret) throw new Error('FerretDB could not be built (scripts/ferretdb.sh)');
        cleanups.push(() => ferret!.stop());
        store = `MongoDB (FerretDB, ${mongo.handler})`;
        env.MONGODB_URL = ferret.url;
      }
      env.MONGODB_DATABASE = `parley_bench_${randomBytes(4).toString('hex')}`;
    }
    const start = async (name: string, roles: string): Promise<Proc> => {
      const port = await freeLoopbackPort();
      // BENCH_NODE_ARGS: extra Node flags for these processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
      // (a profile per process, written when the bench stops it).
      const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
      const p = await spawnProc(name, process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli.ts', 'serve', '--roles', roles], {
        // PGAPPNAME (read by node-postgres): PostgreSQL's logs and pg_stat_activity name the process.
        env: { ...env, PORT: String(port), LOG_LEVEL: 'info', PGAPPNAME: `parley-${name}` },
        readyLine: /"parley started"/,
      });
      (p as Proc & { port?: number }).port = port;
      return p;
    };
    // The API first: it applies the migrations; the others then find them applied.
    const api = await start('api', 'api');
    procs.push(api);
    cleanups.push(() => api.stop());
    await seedHistory(env.DATABASE_URL!, { messages: !mongo });
    const rest = await Promise.allSettled([start('ws1', 'ws'), start('ws2', 'ws'), start('worker', 'worker')]);
    for (const r of rest) if (r.status === 'fulfilled') {
      procs.push(r.value);
      cleanups.push(() => r.value.stop());
    }
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stopAll();
    throw err;
  }
  const portOf = (p: Proc): number => (p as Proc & { port?: number }).port!;
  const gateways = procs.filter((p) => p.name.startsWith('ws'));
  return {
    apiUrl: `http://127.0.0.1:${portOf(procs[0]!)}`,
    wsUrls: gateways.map((g) => `ws://127.0.0.1:${portOf(g)}/v1/ws`),
    gateways,
    store,
    async pids() {
      const own = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null).map((p) => p.pid);
      const ferretPid = ferret?.pid;
      return [...own, ...(ferretPid ? [ferretPid] : []), ...(await pgBackends([...infra.databases, ...extraDbs]))];
    },
    label(pid) {
      if (pid === ferret?.pid) return 'ferretdb';
      return procs.find((p) => p.pid === pid)?.name ?? 'postgres';
    },
    // API and worker processes hold no WebSocket: their heaps would only add GC noise.
    rssPids: async () => gateways.filter((g) => g.child.exitCode === null).map((g) => g.pid),
    stop: stopAll,
  };
}
