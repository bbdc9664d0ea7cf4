/**
 * Heap per idle WebSocket connection, measured without GC noise: an embedded Parley (PGlite,
 * API + gateway) in this process, N authenticated sockets opened by a child process, and
 * `process.memoryUsage()` after forced full GCs before and after. The fan-out bench's "RSS
 * per idle connection" reads RSS without a GC, so it moves with whatever garbage the
 * connects left; this is the live memory a connection holds.
 *
 *   npm run bench:heap -- [connections]     (default 2000)
 *
 * With HEAPSNAP=dir it also writes heap snapshots before and after (open both in Chrome's
 * DevTools, Comparison view, to see what each connection holds).
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { signup, startTestServer } from '../test/harness.js';

const N = Number(process.argv[2] ?? 2000);
// One session holds at most WS_MAX_CONNECTIONS_PER_SESSION (10000) sockets: past that the
// oldest would be closed and the heap divided by sockets no longer held.
if (!Number.isInteger(N) || N < 1 || N > 10_000) throw new Error('connections: 1 to 10000');
if (process.send) {
  // The child: opens the sockets, reports when all are ready, holds them until told.
  const { default: WebSocket } = await import('ws');
  const [url, token] = [process.env.HEAP_WS_URL!, process.env.HEAP_TOKEN!];
  const socks: InstanceType<typeof WebSocket>[] = [];
  let ready = 0;
  for (let i = 0; i < N; i++) {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    ws.on('message', (d) => {
      if (String(d).startsWith('{"type":"ready"') && ++ready === N) process.send!('ready');
    });
    ws.on('error', (e) => console.error('socket error:', e.message));
    socks.push(ws);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20)); // 50 handshakes at a time
  }
  process.on('message', () => {
    for (const s of socks) s.terminate();
    process.exit(0);
  });
} else {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:heap does)');
  const s = await startTestServer({ sql: 'pglite', roles: ['api', 'ws'], env: { WS_MAX_CONNECTIONS_PER_SESSION: '10000', WS_MAX_CONNECTIONS_PER_USER: '100000' } });
  const u = await signup(s.url, 'heapuser');
  const snap = (name: string) => {
    gc();
    gc();
    if (process.env.HEAPSNAP) v8.writeHeapSnapshot(join(process.env.HEAPSNAP, `${name}.heapsnapshot`));
    return process.memoryUsage();
  };
  const open = async (n: number) => {
    const child = fork(fileURLToPath(import.meta.url), [String(n)], { execArgv: ['--import', 'tsx'], env: { ...process.env, HEAP_WS_URL: s.wsUrl, HEAP_TOKEN: u.accessToken } });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${n} connections not ready within 120 s`)), 120_000);
      child.once('message', () => (clearTimeout(timer), resolve()));
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`client process exited (${code})`))));
    });
    return child;
  };
  // A warm-up batch first, opened and closed, so one-time costs (code compiled on first
  // use, maps grown once) are in "before" and not spread over the N.
  const warm = await open(Math.min(100, N));
  const warmExit = new Promise((r) => warm.once('exit', r));
  warm.send('close');
  await warmExit;
  const open0 = async () => (await s.parley.metrics.wsConnections.get()).values[0]?.value ?? 0;
  for (const end = Date.now() + 30_000; (await open0()) > 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  const a = snap('before');
  const child = await open(N);
  const b = snap('after');
  const kib = (x: number, y: number) => ((y - x) / N / 1024).toFixed(2);
  console.log(`heap per idle connection (${N} sockets, after GC): heapUsed ${kib(a.heapUsed, b.heapUsed)} KiB, external ${kib(a.external, b.external)} KiB (RSS ${kib(a.rss, b.rss)} KiB, less steady)`);
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await s.stop();
}
