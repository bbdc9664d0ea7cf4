/**
 * Connect benchmark: how fast a Parley gateway accepts authenticated WebSocket connections
 * (a reconnect storm after a gateway restart is exactly this load).
 *
 *   npm run bench:connect                       # 2,000 connections against this checkout
 *   npm run bench:connect -- --connections 5000 --users 1000 --group 50
 *   npm run bench:connect -- --server-dir /tmp/old-checkout   # the same load against another checkout
 *   npm run bench:connect -- --profile          # also writes the server's .cpuprofile
 *
 * It starts the server as a child process (`src/cli.ts serve` of --server-dir, default this
 * checkout) in the embedded profile on a temporary data directory; with DATABASE_URL /
 * REDIS_URL / AMQP_URL set in the environment those are passed on (the full-stack ports).
 * Users sign up over REST (not measured), are put into groups of --group members (so each
 * has contacts, whose presence a connect announces), then --connections sockets are opened,
 * --concurrency at a time, each counted when its `ready` frame arrives. Prints connections/s,
 * connect latency p50/p99, server CPU during the phase and loadavg. Deletes its data at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '2000' },
    users: { type: 'string', default: '500' },
    group: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '200' },
    'server-dir': { type: 'string', default: process.cwd() },
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('npm run bench:connect -- [--connections 2000] [--users 500] [--group 50] [--concurrency 200] [--server-dir DIR]');
  process.exit(0);
}
const CONNECTIONS = Number(args.connections);
const USERS = Math.min(Number(args.users), CONNECTIONS);
const GROUP = Math.max(2, Number(args.group));
const CONCURRENCY = Math.max(1, Number(args.concurrency));
const SERVER_DIR = resolve(args['server-dir']);
const PROFILE_DIR = args.profile ? mkdtempSync(join(tmpdir(), 'parley-connect-prof-')) : null;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

async function startServer(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
    RATE_LIMIT_SIGNUP_IP: '1000000/1m',
    RATE_LIMIT_LOGIN_IP: '1000000/1m',
    GROUP_MEMBER_LIMIT: String(Math.max(1000, GROUP)),
    WS_MAX_CONNECTIONS_PER_USER: '100000',
    WS_MAX_CONNECTIONS_PER_SESSION: '10000',
  };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'AMQP_URL', 'MONGODB_URL']) if (process.env[k]) env[k] = process.env[k];
  // node itself (not the tsx wrapper), in its own process group, so the kill reaches the server.
  const child = spawn(process.execPath, [...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []), '--import', 'tsx', 'src/cli.ts', 'serve'], { cwd: SERVER_DIR, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${out.slice(-3000)}`);
    const ok = await fetch(url + '/healthz').then((r) => r.ok, () => false);
    if (ok) return { url, child };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const r = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** utime + stime of a process and its descendants (Linux /proc), in seconds: the server runs under tsx. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let total = (Number(f[11]) + Number(f[12])) / 100;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const c of children ? children.split(/\s+/) : []) total += cpuSeconds(Number(c));
    return total;
  } catch {
    return NaN;
  }
}

function openOne(wsUrl: string, token: string): Promise<{ ws: WebSocket; ms: number }> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    const timer = setTimeout(() => rej(new Error('no ready within 60 s')), 60_000);
    ws.on('message', (d) => {
      if ((JSON.parse(d.toString()) as { type: string }).type === 'ready') {
        clearTimeout(timer);
        res({ ws, ms: performance.now() - t0 });
      }
    });
    ws.once('error', (e) => (clearTimeout(timer), rej(e)));
    ws.once('unexpected-response', (_q, r) => (clearTimeout(timer), rej(new Error(`upgrade refused: ${r.statusCode}`))));
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-connect-'));
  let child: ChildProcess | undefined;
  const cleanup = () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => (cleanup(), process.exit(130)));
  try {
    const srv = await startServer(dataDir);
    child = srv.child;
    const { url } = srv;
    const wsUrl = url.replace(/^http/, 'ws') + '/v1/ws';
    const tag = Math.random().toString(36).slice(2, 6);
    const setupAt = Date.now();
    const users = await pool(Array.from({ length: USERS }, (_, i) => i), 8, async (i) => {
      const username = `c${tag}_${i}`;
      const r = await api(url, 'POST', '/v1/auth/signup', { email: `${username}@bench.test`, username, password: 'correct horse battery' });
      return { id: r.user.id as string, token: r.accessToken as string };
    });
    for (let g = 0; g < users.length; g += GROUP) {
      const members = users.slice(g, g + GROUP);
      if (members.length < 2) break;
      await api(url, 'POST', '/v1/conversations', { type: 'group', title: `g${g}`, memberIds: members.slice(1).map((u) => u.id) }, members[0]!.token);
    }
    console.log(`setup: ${USERS} users in groups of ${GROUP}, ${((Date.now() - setupAt) / 1000).toFixed(1)} s`);

    // One warm-up connection per 50 users (JIT, caches), closed before measuring.
    const warm = await pool(users.filter((_, i) => i % 50 === 0), 10, (u) => openOne(wsUrl, u.token));
    for (const w of warm) w.ws.terminate();
    await new Promise((r) => setTimeout(r, 1000));

    const tokens = Array.from({ length: CONNECTIONS }, (_, i) => users[i % users.length]!.token);
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    const opened = await pool(tokens, CONCURRENCY, (t) => openOne(wsUrl, t));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(child.pid!) - cpu0;
    const lat = opened.map((o) => o.ms).sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        server: SERVER_DIR,
        connections: CONNECTIONS,
        users: USERS,
        group: GROUP,
        concurrency: CONCURRENCY,
        seconds: Number(seconds.toFixed(2)),
        connectionsPerSecond: Math.round(CONNECTIONS / seconds),
        p50ms: Math.round(pct(lat, 50)),
        p99ms: Math.round(pct(lat, 99)),
        serverCpuSeconds: Number(cpu.toFixed(2)),
        loadavg: loadavg().map((l) => Number(l.toFixed(2))),
      }),
    );
    for (const o of opened) o.ws.terminate();
    if (PROFILE_DIR) {
      // A graceful stop writes the CPU profile (open it in Chrome DevTools).
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      console.log(`CPU profile (whole server run) in ${PROFILE_DIR}`);
    }
  } finally {
    cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
