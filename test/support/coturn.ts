/**
 * coturn (Debian's `turnserver`) on loopback for the relay test: TURN over UDP and TCP on
 * a free port, `use-auth-secret` with a shared secret (the TURN REST API credentials
 * Parley hands out), loopback peers allowed (both browsers relay through 127.0.0.1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freeLoopbackPort, killOnExit, sleep, tailFile, waitExit } from './process.js';

export interface Coturn {
  port: number;
  secret: string;
  urls: string[];
  logFile: string;
  stop(): Promise<void>;
}

/** Starts turnserver; rejects (never skips) when it cannot be started. */
export async function startCoturn(secret: string): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-coturn-'));
  const logFile = join(dir, 'turn.log');
  const port = await freeLoopbackPort();
  const relayMin = 40000 + Math.floor(Math.random() * 20000);
  const child: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${relayMin}`,
      `--max-port=${relayMin + 200}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=parley.test',
      '--fingerprint',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--allow-loopback-peers',
      '--no-multicast-peers',
      `--pidfile=${join(dir, 'turn.pid')}`,
      `--log-file=${logFile}`,
      '--simple-log',
      '--verbose',
    ],
    { stdio: 'ignore' },
  );
  killOnExit(child);
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`coturn did not start on ${port}:\n${tailFile(logFile)}`);
    }
    await sleep(100);
  }
  return {
    port,
    secret,
    urls: [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`],
    logFile,
    async stop() {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 5_000))) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
