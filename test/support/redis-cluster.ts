// Test helper: a throwaway Redis Cluster of three masters and three replicas on free
// loopback ports, built from Debian's redis-server and redis-cli (`--cluster create`), for
// the tests that run the Redis adapters and the full stack against a real cluster and kill
// a master to see its replica promoted.
//
//   const cluster = await startRedisCluster();
//   try {
//     ... REDIS_URL = cluster.url, REDIS_CLUSTER = true ...
//     const port = await cluster.masterOf('some-key');
//     await cluster.killNode(port);          // SIGKILL a master
//     await cluster.waitHealthy();           // its replica took over, every slot served
//   } finally {
//     await cluster.stop();
//   }
//
// Every node binds 127.0.0.1 only, keeps nothing on disk beyond its nodes.conf in a temp
// dir, and uses an explicit cluster bus port (`cluster-port`, Redis ≥ 7), so the usual
// "port + 10000" need not be free. A short `cluster-node-timeout` makes failover take
// about two seconds instead of fifteen.
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeLoopbackPort, sleep, waitExit } from './process.js';
import { spawnRedisServer } from './redis-server.js';

const run = promisify(execFile);
const CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const NODE_TIMEOUT_MS = 2_000;

export interface RedisClusterNode {
  readonly port: number;
  readonly url: string;
}

export interface RedisClusterTest {
  readonly nodes: readonly RedisClusterNode[];
  /** A seed node's URL (redis://127.0.0.1:<port>); ioredis discovers the rest. */
  readonly url: string;
  /** Port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** Ports of the current masters (alive ones). */
  masters(): Promise<number[]>;
  /** SIGKILL the node on `port`, like a crash. */
  killNode(port: number): Promise<void>;
  /** Resolves when every live node says cluster_state:ok and all 16384 slots have a live master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

interface NodeLine {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  slots: number;
}

/** Parses CLUSTER NODES (one line per node: id addr flags master ping pong epoch link slots...). */
function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const port = Number(/:(\d+)[@,]/.exec(f[1]!)?.[1] ?? 0);
      const flags = f[2]!.split(',');
      let slots = 0;
      for (const r of f.slice(8)) {
        if (r.startsWith('[')) continue; // a slot being migrated
        const [a, b] = r.split('-').map(Number);
        slots += (b ?? a!) - a! + 1;
      }
      return { id: f[0]!, port, master: flags.includes('master'), failed: flags.includes('fail') || flags.includes('fail?'), slots };
    });
}

/** Starts six nodes and joins them into a cluster with one replica per master. */
export async function startRedisCluster(): Promise<RedisClusterTest> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'parley-redis-cluster-'));
  const children = new Map<number, ChildProcess>();
  const nodes: RedisClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      [...children.values()].map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        c.kill('SIGKILL');
        await waitExit(c, 5_000);
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freeLoopbackPort();
      const busPort = await freeLoopbackPort();
      const dir = path.join(root, String(port));
      mkdirSync(dir);
      const child = await spawnRedisServer(port, dir, [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--cluster-port', String(busPort),
        // a replica promotes itself even if it lost contact with its master a while ago
        '--cluster-replica-validity-factor', '0',
      ]);
      children.set(port, child);
      nodes.push({ port, url: `redis://127.0.0.1:${port}` });
    }
    await run(CLI, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });
  } catch (err) {
    await stop();
    throw new Error(`could not start a Redis Cluster: ${(err as Error).message}`, { cause: err });
  }

  const alive = () => nodes.filter((n) => {
    const c = children.get(n.port)!;
    return c.exitCode === null && c.signalCode === null;
  });

  const view = async (): Promise<NodeLine[]> => {
    for (const n of alive()) {
      try {
        return parseNodes(await cli(n.port, 'CLUSTER', 'NODES'));
      } catch {
        /* try the next node */
      }
    }
    throw new Error('no live cluster node answers');
  };

  const waitHealthy = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: string;
    for (;;) {
      try {
        const live = alive();
        const states = await Promise.all(live.map((n) => cli(n.port, 'CLUSTER', 'INFO')));
        const ok = states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s));
        const lines = await view();
        const livePorts = new Set(live.map((n) => n.port));
        const served = lines.filter((l) => l.master && !l.failed && livePorts.has(l.port)).reduce((a, l) => a + l.slots, 0);
        if (ok && served === 16384) return;
        last = `served ${served}/16384; ${states.map((s) => /cluster_state:(\w+)/.exec(s)?.[1]).join(',')}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy after ${timeoutMs} ms (${last})`);
      await sleep(100);
    }
  };
  try {
    await waitHealthy(60_000);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    nodes,
    url: nodes[0]!.url,
    waitHealthy,
    async masterOf(key) {
      const slot = Number((await cli(alive()[0]!.port, 'CLUSTER', 'KEYSLOT', key)).trim());
      for (const n of alive()) {
        // each live master's own line ("myself") lists the slot ranges it serves
        const mine = (await cli(n.port, 'CLUSTER', 'NODES')).split('\n').find((l) => l.includes('myself'));
        if (!mine || !mine.split(' ')[2]!.includes('master')) continue;
        for (const r of mine.trim().split(' ').slice(8)) {
          if (r.startsWith('[')) continue; // a slot being migrated
          const [a, b] = r.split('-').map(Number);
          if (slot >= a! && slot <= (b ?? a!)) return n.port;
        }
      }
      throw new Error(`no live master serves slot ${slot}`);
    },
    async masters() {
      const lines = await view();
      const livePorts = new Set(alive().map((n) => n.port));
      return lines.filter((l) => l.master && !l.failed && livePorts.has(l.port) && l.slots > 0).map((l) => l.port);
    },
    async killNode(port) {
      const c = children.get(port);
      if (!c) throw new Error(`no node on port ${port}`);
      c.kill('SIGKILL');
      await waitExit(c, 5_000);
    },
    stop,
  };
}
