// Test helper: an Nginx (Debian's package) in front of Parley processes, with the committed
// deploy/nginx.conf rendered by `scripts/nginx.sh render` for this run's ports (the one
// source of the configuration), in a temp dir of its own (pid, logs, temp files), listening
// on a free loopback port, run as a child in the foreground (`daemon off`).
//
//   const bin = await ensureNginx();            // installs nginx if missing; null: cannot
//   const nginx = await startNginx({ api: ['127.0.0.1:4001'], ws: ['127.0.0.1:4002', '127.0.0.1:4003'] });
//   ... fetch(nginx.url + '/healthz'), new WebSocket(nginx.wsUrl) ...
//   await nginx.stop();
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canConnect, freeLoopbackPort, killOnExit, waitExit } from './process.js';

export { freeLoopbackPort };

export interface NginxOptions {
  /** Servers of upstream parley_api, `host:port`. */
  api: readonly string[];
  /** Servers of upstream parley_ws, `host:port`. */
  ws: readonly string[];
  /** client_max_body_size (BODY_LIMIT_BYTES); the template's value when unset. */
  bodyLimitBytes?: number;
  /** Add `X-Upstream: <address>` to responses (default true: tests want to know). */
  exposeUpstream?: boolean;
}

export interface NginxTestServer {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port>/v1/ws */
  readonly wsUrl: string;
  readonly dir: string;
  /** The rendered configuration. */
  readonly config: string;
  /** The error and access logs so far (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'nginx.sh');
const START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3; // the free-port probe can race with other processes

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => resolve({ code: 127, out, err: err + e.message }));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

let binary: Promise<{ path: string } | { error: string }> | undefined;

/**
 * The nginx binary, installed from Debian's package (`apt-get install nginx`, under a lock)
 * when missing. Resolves `{ error }` with one line saying why when it cannot be had.
 */
export function ensureNginx(): Promise<{ path: string } | { error: string }> {
  binary ??= run(['ensure']).then(({ code, out, err }) => {
    const bin = out.trim().split('\n').pop() ?? '';
    if (code === 0 && bin) return { path: bin };
    const why = err.trim().split('\n').filter(Boolean).pop() ?? `exit ${code}`;
    return { error: `nginx is not available: ${why}` };
  });
  return binary;
}

/** Renders deploy/nginx.conf through scripts/nginx.sh; throws with its message on failure. */
export async function renderNginxConfig(args: string[]): Promise<string> {
  const { code, out, err } = await run(['render', ...args]);
  if (code !== 0) throw new Error(`scripts/nginx.sh render failed (exit ${code}): ${err.trim()}`);
  return out;
}




function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function startOnce(bin: string, opts: NginxOptions, port: number): Promise<NginxTestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-nginx-'));
  // Run as root, nginx's workers run as the template's `user` (www-data): they must reach
  // the temp dirs under here (nginx itself gives them the dirs it makes).
  chmodSync(dir, 0o755);
  const args = ['--listen', `127.0.0.1:${port}`, '--prefix', dir, '--api', opts.api.join(','), '--ws', opts.ws.join(',')];
  if (opts.bodyLimitBytes !== undefined) args.push('--body-limit', String(opts.bodyLimitBytes));
  if (opts.exposeUpstream ?? true) args.push('--expose-upstream');
  let config: string;
  try {
    config = await renderNginxConfig(args);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const confFile = path.join(dir, 'nginx.conf');
  writeFileSync(confFile, config);
  const errorLog = path.join(dir, 'logs', 'error.log');
  const accessLog = path.join(dir, 'logs', 'access.log');
  const child = spawn(bin, ['-p', `${dir}/`, '-e', errorLog, '-c', confFile, '-g', 'daemon off;'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.unref();
  killOnExit(child);
  let output = '';
  const collect = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-4_000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  (child.stdout as unknown as net.Socket | null)?.unref?.();
  (child.stderr as unknown as net.Socket | null)?.unref?.();
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const logs = () => `${output}${readOr(errorLog)}${readOr(accessLog)}`.slice(-8_000);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT'); // graceful: finish what is in flight
        if (!(await waitExit(child, 3_000))) {
          child.kill('SIGKILL');
          await waitExit(child, 3_000);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    })());

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      const why = spawnError ? `could not be spawned: ${spawnError.message}` : `exited early (${child.signalCode ?? `exit ${child.exitCode}`})`;
      const l = logs();
      await stop();
      throw new Error(`nginx on 127.0.0.1:${port} ${why}; output:\n${l}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      const l = logs();
      await stop();
      throw new Error(`nginx did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000}s; output:\n${l}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, dir, config, logs, stop };
}

/** Starts nginx in front of the given servers; throws if nginx is not available (call ensureNginx first to skip). */
export async function startNginx(opts: NginxOptions): Promise<NginxTestServer> {
  const bin = await ensureNginx();
  if ('error' in bin) throw new Error(bin.error);
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(bin.path, opts, await freeLoopbackPort());
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String((err as Error).message))) break;
    }
  }
  throw lastError;
}
