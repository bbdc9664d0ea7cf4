// Test helper: a throwaway MongoDB wire-protocol server for the MongoDB adapter's tests.
//
// If MONGODB_URL is set, that server (a real mongod) is used as is. Otherwise a
// FerretDB v1.24.2 binary is ensured via scripts/ferretdb.sh (built from the Go
// module proxy and cached) and started with the SQLite backend in a fresh temp
// dir, listening on 127.0.0.1 only, with telemetry and the debug/metrics HTTP
// listener disabled. Returns null (after printing one line saying why) when the
// binary cannot be built, so callers can skip.
//
//   const db = await startFerretDB();
//   if (!db) { t.skip('no MongoDB server'); return; }
//   try { ... new MongoClient(db.url) ... } finally { await db.stop(); }
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canConnect, freeLoopbackPort, sleep, tailFile as tail, waitExit } from './process.js';

export interface MongoTestServer {
  url: string;
  /** FerretDB's process id (absent for an external MONGODB_URL). */
  pid?: number;
  stop(): Promise<void>;
}

/** FerretDB's storage: SQLite files in a temp dir (the default), or a PostgreSQL database. */
export type FerretHandler = 'sqlite' | 'postgresql';

export interface FerretOptions {
  handler?: FerretHandler;
  /** Required for the postgresql handler: a database FerretDB may own. */
  postgresqlUrl?: string;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'ferretdb.sh');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 3; // the free-port probe can race with other processes

// Servers still running, killed synchronously if the process exits without stop().
const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      try {
        rmSync(s.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

let binaryPromise: Promise<{ path: string } | { error: string }> | undefined;

/** Runs `bash scripts/ferretdb.sh path` once per process (it may build for ~2-4 min on a cold cache). */
function ensureBinary(): Promise<{ path: string } | { error: string }> {
  binaryPromise ??= new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, 'path'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => resolve({ error: `cannot run bash ${SCRIPT}: ${e.message}` }));
    child.on('close', (code, signal) => {
      const binPath = out.trim().split('\n').pop() ?? '';
      if (code === 0 && binPath) {
        resolve({ path: binPath });
        return;
      }
      const lastLine =
        err
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .pop() ?? '';
      resolve({
        error: `scripts/ferretdb.sh failed (${signal ?? `exit ${code}`})${lastLine ? `: ${lastLine}` : ''}`,
      });
    });
  });
  return binaryPromise;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitExit(child, STOP_TIMEOUT_MS))) {
    child.kill('SIGKILL');
    await waitExit(child, STOP_TIMEOUT_MS);
  }
}

/** One attempt: start FerretDB on `port`; resolves when it accepts TCP connections. */
async function startOnce(bin: string, port: number, opts: FerretOptions): Promise<MongoTestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-ferretdb-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const logFile = path.join(dir, 'ferretdb.log');
  const logFd = openSync(logFile, 'a');

  const storage =
    opts.handler === 'postgresql'
      ? ['--handler=postgresql', `--postgresql-url=${opts.postgresqlUrl ?? ''}`]
      : ['--handler=sqlite', `--sqlite-url=file:${dataDir}/`];
  const args = [
    ...storage,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-', // no debug/metrics HTTP listener
    '--telemetry=disable',
    '--test-telemetry-url=http://127.0.0.1:9/', // belt and braces: never the internet
    `--state-dir=${dir}`, // state.json would otherwise land in the cwd
    '--log-format=text',
  ];
  const child = spawn(bin, args, {
    cwd: dir,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, DO_NOT_TRACK: '1' },
  });
  closeSync(logFd);
  child.unref(); // a forgotten stop() must not keep the test process alive (exit hook kills it)
  const entry = { child, dir };
  live.add(entry);
  installExitHook();

  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await kill(child);
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    })());

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      const why = spawnError
        ? `could not be spawned: ${spawnError.message}`
        : `exited early (${child.signalCode ?? `exit ${child.exitCode}`})`;
      const log = tail(logFile);
      await stop();
      throw new Error(`FerretDB (${bin}) ${why}; stderr:\n${log}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      const log = tail(logFile);
      await stop();
      throw new Error(
        `FerretDB did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000}s; stderr:\n${log}`,
      );
    }
    await sleep(100);
  }
  return { url: `mongodb://127.0.0.1:${port}/`, ...(child.pid ? { pid: child.pid } : {}), stop };
}

/** FerretDB on a free loopback port (or MONGODB_URL as is); null when the binary cannot be built. */
export async function startFerretDB(opts: FerretOptions = {}): Promise<MongoTestServer | null> {
  if (opts.handler === 'postgresql' && !opts.postgresqlUrl) throw new Error('startFerretDB: the postgresql handler needs postgresqlUrl');
  const external = process.env.MONGODB_URL;
  if (external) return { url: external, stop: async () => {} };

  const bin = await ensureBinary();
  if ('error' in bin) {
    console.warn(`[ferretdb] MongoDB tests skipped: ${bin.error}`);
    return null;
  }

  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await startOnce(bin.path, port, opts);
    } catch (e) {
      lastError = e;
      // Retry only if someone grabbed the port between the probe and FerretDB's bind.
      if (!String((e as Error).message).includes('address already in use')) throw e;
    }
  }
  throw lastError;
}
