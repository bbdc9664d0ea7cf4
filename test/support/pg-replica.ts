// Test helper: a PostgreSQL primary and a streaming replica of it, each a postgres process
// of the machine's PostgreSQL installation on a free loopback port, in temp directories,
// for the tests of DATABASE_REPLICA_URL. The machine's own server (127.0.0.1:5432) is not
// touched: the primary here is a fresh cluster (initdb), the replica is `pg_basebackup -R`
// of it, so it streams the primary's WAL and answers read-only queries.
//
//   const pg = await startPrimaryWithReplica();
//   ... DATABASE_URL = pg.primaryUrl, DATABASE_REPLICA_URL = pg.replicaUrl ...
//   await pg.pauseReplay();   // the replica stops applying WAL: it lags on purpose
//   await pg.resumeReplay();
//   await pg.stopReplica();   // the replica goes away
//   await pg.stop();
//
// PostgreSQL refuses to run as root; when the tests run as root the server processes run
// as the `postgres` system user (runuser), and their directories belong to it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freeLoopbackPort, killOnExit, sleep, waitExit } from './process.js';

const run = promisify(execFile);

/** The bin directory of the newest PostgreSQL installed from Debian's packages. */
function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error(`no PostgreSQL server binaries under ${root}`);
  return path.join(root, versions[0]!, 'bin');
}

export interface PrimaryWithReplica {
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  /** pg_wal_replay_pause() on the replica: it keeps its data as of now until resumed. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves when the replica has applied everything the primary has written so far. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops the replica (fast shutdown): queries to it fail from then on. */
  stopReplica(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrimaryWithReplica(): Promise<PrimaryWithReplica> {
  const bin = pgBin();
  const asRoot = process.getuid?.() === 0;
  const pgUser = asRoot ? Number((await run('id', ['-u', 'postgres'])).stdout.trim()) : undefined;
  const pgGroup = asRoot ? Number((await run('id', ['-g', 'postgres'])).stdout.trim()) : undefined;
  // Run a PostgreSQL binary as the postgres user when we are root.
  const cmd = (file: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, file), ...args]] : [path.join(bin, file), args]);
  const root = mkdtempSync(path.join(os.tmpdir(), 'parley-pg-replica-'));
  if (asRoot) {
    chownSync(root, pgUser!, pgGroup!);
    chmodSync(root, 0o700);
  }
  const primaryDir = path.join(root, 'primary');
  const replicaDir = path.join(root, 'replica');
  const children: ChildProcess[] = [];

  const startServer = async (dir: string, port: number): Promise<ChildProcess> => {
    const [file, args] = cmd('postgres', ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${root}`, '-c', 'fsync=off']);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.unref();
    killOnExit(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    children.push(child);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres on port ${port} exited early:\n${out}`);
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      try {
        await c.connect();
        await c.query('SELECT 1');
        await c.end();
        return child;
      } catch {
        await c.end().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error(`postgres on port ${port} did not accept connections in 30 s:\n${out}`);
      await sleep(100);
    }
  };

  const stopChild = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT'); // fast shutdown
    if (!(await waitExit(child, 10_000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    }
  };
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    const primaryPort = await freeLoopbackPort();
    const replicaPort = await freeLoopbackPort();
    await run(...cmd('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']), { timeout: 120_000 });
    // Streaming replication from loopback with trust auth, as the test's throwaway cluster.
    await run(asRoot ? 'runuser' : 'sh', asRoot ? ['-u', 'postgres', '--', 'sh', '-c', `echo "host replication all 127.0.0.1/32 trust" >> ${primaryDir}/pg_hba.conf`] : ['-c', `echo "host replication all 127.0.0.1/32 trust" >> ${primaryDir}/pg_hba.conf`]);
    await startServer(primaryDir, primaryPort);
    await run(...cmd('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast']), { timeout: 120_000 });
    await startServer(replicaDir, replicaPort);
    const replicaChild = children[1]!;

    const admin = async <T>(port: number, sql: string): Promise<T[]> => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        return (await c.query(sql)).rows as T[];
      } finally {
        await c.end();
      }
    };
    const [recovery] = await admin<{ r: boolean }>(replicaPort, 'SELECT pg_is_in_recovery() AS r');
    if (!recovery?.r) throw new Error('the replica is not in recovery (not a standby)');
    return {
      primaryUrl: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
      replicaUrl: `postgres://postgres@127.0.0.1:${replicaPort}/postgres`,
      pauseReplay: async () => void (await admin(replicaPort, 'SELECT pg_wal_replay_pause()')),
      resumeReplay: async () => void (await admin(replicaPort, 'SELECT pg_wal_replay_resume()')),
      async caughtUp(timeoutMs = 30_000) {
        const lsn = (await admin<{ lsn: string }>(primaryPort, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const [row] = await admin<{ ok: boolean }>(replicaPort, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS ok`);
          if (row?.ok) return;
          if (Date.now() > deadline) throw new Error(`replica did not reach ${lsn} in ${timeoutMs} ms`);
          await sleep(50);
        }
      },
      stopReplica: () => stopChild(replicaChild),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
