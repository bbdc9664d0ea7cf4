// Test helper: a dedicated, throwaway redis-server on a free loopback port, for tests that
// must break Redis (kill it, restart it on the same port) without touching the machine's
// shared Redis. No persistence (`--save "" --appendonly no`), bound to 127.0.0.1 only,
// working directory in a fresh temp dir.
//
//   const redis = await startRedisServer();
//   try {
//     ... new Redis(redis.url) ...
//     await redis.kill();    // SIGKILL: the clients see the connection drop
//     await redis.restart(); // a new, empty server on the same port
//   } finally {
//     await redis.stop();
//   }
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort, killOnExit, waitExit } from './process.js';

export interface RedisTestServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** SIGKILL, like a crash: no goodbye to the clients. Resolves when the process is gone. */
  kill(): Promise<void>;
  /**
   * SIGSTOP: the process freezes but the kernel keeps its sockets open and even accepts new
   * connections, so clients see no error, just silence (like a network partition).
   */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Starts a fresh (empty) server on the same port; resolves when it answers PING. */
  restart(): Promise<void>;
  /** Stops the server (if running) and removes its directory. */
  stop(): Promise<void>;
}

const BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3; // the free-port probe can race with other processes

/** True when a server on `port` answers PING with +PONG (a bare TCP accept is not enough). */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.once('error', () => done(false));
  });
}


/**
 * Spawns redis-server on `port` (with `extraArgs`, e.g. the cluster settings) and waits
 * until it answers; throws with its output if it does not.
 */
export async function spawnRedisServer(port: number, dir: string, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', ...extraArgs];
  const child = spawn(BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.unref(); // a forgotten stop() must not keep the test process alive (exit hook kills it)
  killOnExit(child);
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // the pipes are sockets: unref them too, or they would keep the test process alive
  for (const pipe of [child.stdout, child.stderr]) (pipe as net.Socket | null)?.unref();
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      const why = spawnError ? `could not be spawned: ${spawnError.message}` : `exited early (${child.signalCode ?? `exit ${child.exitCode}`})`;
      throw new Error(`${BIN} on port ${port} ${why}; output:\n${output}`);
    }
    if (await pings(port)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${BIN} did not answer PING on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000}s; output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startRedisServer(): Promise<RedisTestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS && !child; attempt++) {
    port = await freeLoopbackPort();
    try {
      child = await spawnRedisServer(port, dir);
    } catch (e) {
      lastError = e;
      // Retry only if someone grabbed the port between the probe and redis-server's bind.
      if (!/address already in use/i.test(String((e as Error).message))) break;
    }
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  const terminate = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return; // already exited
    c.kill('SIGCONT'); // a paused server would not act on SIGTERM
    c.kill(signal);
    if (!(await waitExit(c, 5_000))) {
      c.kill('SIGKILL');
      await waitExit(c, 5_000);
    }
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => terminate('SIGKILL'),
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async restart() {
      await terminate('SIGKILL');
      child = await spawnRedisServer(port, dir);
    },
    async stop() {
      await terminate('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
