/** Small process and port helpers shared by the test peers (FerretDB, Redis, Nginx, spawned servers). */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';

/** A TCP port free on 127.0.0.1 right now (the caller binds it soon after; retry on EADDRINUSE). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** True when something accepts a TCP connection on 127.0.0.1:`port` within a second. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Resolves true once `child` has exited, or false after `ms`. */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The last `max` characters of a log file ('' if unreadable), for error messages. */
export function tailFile(file: string, max = 4_000): string {
  try {
    const s = readFileSync(file, 'utf8');
    return s.length > max ? `...${s.slice(-max)}` : s;
  } catch {
    return '';
  }
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills `child` (SIGKILL) if the test process exits before it does: no orphaned peers. */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of children) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * Starts the real server (`tsx src/cli.ts serve`) as a child process on a free loopback
 * port with `env`, and resolves once it logged that it started. `output()` is its log so far.
 */
export async function spawnParley(env: Record<string, string>, opts: { args?: string[]; timeoutMs?: number } = {}): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const { spawn } = await import('node:child_process');
  const port = await freeLoopbackPort();
  // The test runner's own variables would make the child think it is a test file.
  const { NODE_TEST_CONTEXT: _ctx, ...parentEnv } = process.env;
  // node itself with the tsx loader, not the tsx wrapper: a SIGKILL must reach the server,
  // and the wrapper cannot pass that signal on (its child would live on as an orphan).
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', ...(opts.args ?? [])], {
    env: { ...parentEnv, LOG_LEVEL: 'info', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // Generous: cold tsx starts on a loaded 2-core CI machine.
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (!out.includes('parley started')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${out.slice(-4000)}`);
    }
    await sleep(100);
  }
  return { url: `http://127.0.0.1:${port}`, child, output: () => out };
}

/** True in CI (`CI=true`, as GitHub Actions and `.ci/run` set it). */
export const IN_CI = /^(true|1)$/i.test(process.env.CI ?? '');

/**
 * For a suite whose peer (FerretDB, Nginx, ...) could not be had: the `skip` reason to use
 * locally, but under CI=true a failing test instead, so a green CI run means every suite
 * ran. `reason` false/undefined: the peer is there, nothing is skipped.
 */
export function skipUnlessCI(reason: string | false | undefined): string | false {
  if (!reason) return false;
  if (!IN_CI) return reason;
  test(`required test peer is available (CI=true): ${reason}`, () => {
    throw new Error(`${reason} — under CI=true a missing peer fails instead of skipping`);
  });
  return `${reason} (reported as a failure above: CI=true)`;
}
