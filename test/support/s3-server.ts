/**
 * A real S3-compatible API server for tests: the Versity S3 Gateway (versitygw) over a
 * POSIX temp directory, on a free 127.0.0.1 port. It verifies SigV4 signatures (header and
 * presigned URL) and presigned-URL expiry, so tests exercise real auth failures.
 *
 * The binary is built once from the Go module proxy and cached by `scripts/s3-server.sh`
 * (a cold build takes ~4 minutes; the 60 s start-up timeout below does not include it).
 *
 * Environment variables:
 *   S3_TEST_ENDPOINT           use this already-running S3 server instead of starting one
 *                              (e.g. http://127.0.0.1:9000); path-style addressing is assumed.
 *   S3_TEST_ACCESS_KEY_ID      its access key (required with S3_TEST_ENDPOINT)
 *   S3_TEST_SECRET_ACCESS_KEY  its secret key (required with S3_TEST_ENDPOINT)
 *   S3_TEST_REGION             its region (default us-east-1)
 *   S3_TEST_BUCKET             bucket to use (created if missing, left in place by stop());
 *                              without it a fresh `parley-test-<hex>` bucket is created and
 *                              emptied/removed by stop().
 *   S3_SERVER_BIN              use this versitygw binary instead of `scripts/s3-server.sh path`.
 *
 * What an S3 adapter must handle (checked against this server with the current AWS SDK v3):
 * - Path-style addressing: `forcePathStyle: true` (no virtual-host buckets on 127.0.0.1).
 * - Presigned PUT: with the SDK default `requestChecksumCalculation: 'WHEN_SUPPORTED'` the
 *   URL gets `x-amz-sdk-checksum-algorithm=CRC32&x-amz-checksum-crc32=AAAAAA==` (the CRC of
 *   the empty body seen at signing time); stores that check it (R2, SeaweedFS, reportedly
 *   S3 itself: aws-sdk-js-v3 issue 6994) then reject the real upload. versitygw ignores that
 *   query checksum, so tests will NOT catch it: presign with a client made with
 *   `requestChecksumCalculation: 'WHEN_REQUIRED'` (the test asserts the URL has none).
 * - Presigned PUT Content-Type: the presigner never signs content-type unless asked:
 *   `getSignedUrl(..., { signableHeaders: new Set(['content-type']) })`; then the uploader
 *   must send exactly that Content-Type (else 403 SignatureDoesNotMatch).
 * - SDK PutObject with a stream body and default checksums is sent aws-chunked with a CRC32
 *   trailer; chunks under 8 KiB (but the last) are refused (InvalidChunkSizeError), so set
 *   `requestStreamBufferSize: 65_536` on the client (or use WHEN_REQUIRED / a Buffer body).
 * - Wrong checksums give 400 BadDigest; bad/tampered signatures and wrong secrets give 403;
 *   an expired presigned URL gives 403 AccessDenied "Request has expired".
 * - Presigned GET URLs carry `x-amz-checksum-mode=ENABLED` (default
 *   responseChecksumValidation); harmless. A Range header on a presigned GET is not signed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export interface S3TestServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (use with `forcePathStyle: true`). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A bucket that exists and belongs to this server/test. */
  bucket: string;
  /** Stops the server (if started here) and removes its data. */
  stop(): Promise<void>;
}

const TEST_REGION = 'us-east-1';
const TEST_ACCESS_KEY_ID = 'PARLEYTESTACCESSKEY1';
const TEST_SECRET_ACCESS_KEY = 'parley-test-secret-key-do-not-use-0123456789';
const TEST_BUCKET = 'parley-test';
const READY_TIMEOUT_MS = 60_000;
const STDERR_LIMIT = 64 * 1024;

const execFileP = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/s3-server.sh', import.meta.url));

function s3Client(endpoint: string, region: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}

function errorName(err: unknown): string {
  return (err as { name?: string } | null)?.name ?? '';
}

async function createBucketIfMissing(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (errorName(err) === 'BucketAlreadyOwnedByYou') return;
    if (errorName(err) === 'BucketAlreadyExists') {
      await client.send(new HeadBucketCommand({ Bucket: bucket })); // throws if not ours
      return;
    }
    throw err;
  }
}

async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
    const keys = (list.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
    if (keys.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function useExternalServer(endpoint: string): Promise<S3TestServer> {
  const accessKeyId = process.env.S3_TEST_ACCESS_KEY_ID;
  const secretAccessKey = process.env.S3_TEST_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('S3_TEST_ENDPOINT is set: S3_TEST_ACCESS_KEY_ID and S3_TEST_SECRET_ACCESS_KEY must be set too');
  }
  const region = process.env.S3_TEST_REGION || TEST_REGION;
  const fixedBucket = process.env.S3_TEST_BUCKET;
  const bucket = fixedBucket || `parley-test-${randomBytes(6).toString('hex')}`;
  const client = s3Client(endpoint, region, accessKeyId, secretAccessKey);
  try {
    await createBucketIfMissing(client, bucket);
  } catch (err) {
    client.destroy();
    throw new Error(`cannot create bucket ${bucket} on S3_TEST_ENDPOINT=${endpoint}: ${String(err)}`, { cause: err });
  }
  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    bucket,
    async stop() {
      try {
        if (!fixedBucket) await emptyAndDeleteBucket(client, bucket);
      } finally {
        client.destroy();
      }
    },
  };
}

async function serverBinary(): Promise<string> {
  if (process.env.S3_SERVER_BIN) return process.env.S3_SERVER_BIN;
  try {
    const { stdout } = await execFileP('bash', [SCRIPT, 'path'], { maxBuffer: 16 * 1024 * 1024 });
    const path = stdout.trim().split('\n').pop();
    if (!path) throw new Error('no path printed');
    return path;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`bash scripts/s3-server.sh path failed: ${String(err)}\n${stderr}`, { cause: err });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not get a free port'));
      });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Servers still running / data dirs still present, cleaned up if this process exits without stop(). */
const running = new Set<ChildProcess>();
const dataDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });
}
function trackChild(child: ChildProcess): void {
  installExitHook();
  running.add(child);
  child.once('exit', () => running.delete(child));
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

interface Started {
  child: ChildProcess;
  endpoint: string;
}

/** Starts versitygw on a fresh free port; resolves once it answers HTTP. */
async function launch(bin: string, dataDir: string, deadline: number): Promise<Started> {
  // Pass only what the server needs; drop inherited VGW_*/ROOT_* settings that could
  // open other listeners, enable webhooks/event targets, or change the credentials.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(VGW_|ROOT_|LOGFILE$|WEBHOOK$)/.test(k)) env[k] = v;
  }
  env.ROOT_ACCESS_KEY_ID = TEST_ACCESS_KEY_ID;
  env.ROOT_SECRET_ACCESS_KEY = TEST_SECRET_ACCESS_KEY;

  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(bin, ['--port', `127.0.0.1:${port}`, '--region', TEST_REGION, '--quiet', 'posix', dataDir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(child);
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > STDERR_LIMIT) output = output.slice(-STDERR_LIMIT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });

    for (;;) {
      if (spawnError) throw new Error(`cannot start ${bin}: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        // Any HTTP answer (403 for an anonymous request) means it is serving.
        const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.headers.get('server')?.toUpperCase().includes('VERSITYGW')) return { child, endpoint };
        // Something else answered on that port: give it up and try another.
        output += `\n(port ${port} answered as "${res.headers.get('server') ?? '?'}", not versitygw)`;
        break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await killChild(child);
        throw new Error(
          `S3 server (versitygw) did not become ready within ${READY_TIMEOUT_MS / 1000}s on ${endpoint}; its output:\n${output}`,
        );
      }
      await sleep(100);
    }
    await killChild(child);
    lastError = `exit ${child.exitCode ?? child.signalCode}; output:\n${output}`;
    // Retry only when another process grabbed the port between probe and bind.
    if (!/address already in use|answered as/i.test(output)) break;
  }
  throw new Error(`S3 server (versitygw) failed to start: ${lastError}`);
}

/**
 * Starts a fresh S3 server (or uses S3_TEST_ENDPOINT, see the top of this file) with a
 * bucket created in it. Always call `stop()` (e.g. in `after`).
 */
export async function startS3Server(): Promise<S3TestServer> {
  const external = process.env.S3_TEST_ENDPOINT;
  if (external) return useExternalServer(external.replace(/\/+$/, ''));

  const bin = await serverBinary();
  const dir = await mkdtemp(join(tmpdir(), 'parley-s3-'));
  installExitHook();
  dataDirs.add(dir);
  const cleanupDir = async () => {
    await rm(dir, { recursive: true, force: true });
    dataDirs.delete(dir);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;

  let started: Started;
  try {
    started = await launch(bin, dir, deadline);
  } catch (err) {
    await cleanupDir();
    throw err;
  }
  const { child, endpoint } = started;

  const client = s3Client(endpoint, TEST_REGION, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY);
  try {
    await createBucketIfMissing(client, TEST_BUCKET);
  } catch (err) {
    await killChild(child);
    await cleanupDir();
    throw new Error(`S3 server (versitygw) at ${endpoint} refused CreateBucket ${TEST_BUCKET}: ${String(err)}`, {
      cause: err,
    });
  } finally {
    client.destroy();
  }

  let stopped = false;
  return {
    endpoint,
    region: TEST_REGION,
    accessKeyId: TEST_ACCESS_KEY_ID,
    secretAccessKey: TEST_SECRET_ACCESS_KEY,
    bucket: TEST_BUCKET,
    async stop() {
      if (stopped) return;
      stopped = true;
      await killChild(child);
      await cleanupDir();
    },
  };
}
