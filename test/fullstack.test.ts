/**
 * The full stack on one machine, as it runs in production: 1 API process, 2 WebSocket
 * gateway processes and 1 worker (`src/cli.ts serve --roles ...`, each its own OS process),
 * Nginx in front (deploy/nginx.conf rendered for this run's ports), a fresh PostgreSQL
 * database, a dedicated redis-server (so the test can restart it) with a key prefix of its
 * own, and RabbitMQ in a fresh vhost.
 *
 * It shows what issue 4 asks for: real-time delivery (messages, typing, presence) between
 * clients on different gateways; a gateway killed with SIGKILL while messages flow, its
 * clients reconnecting through Nginx to the other and, after resume, every client holding
 * every persisted message exactly once; Redis restarted while messages flow, the gateways
 * resubscribing (`sync.required`) and no persisted message missing from any client.
 *
 * The clients are the SDK's `ParleyClient` (reconnect with backoff, `resume` from the last
 * cursor, gap fill by seq, an outbox that resends with the same `clientMsgId`), with what
 * the assertions need recorded beside it (which gateway, every message frame, latencies).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { ParleyClient, type Message } from '../sdk/index.js';
import { CONFIG_SPEC } from '../src/config.js';
import { TEST_JWT_SECRET, call, signup, type TestUser } from './harness.js';
import { createTestDatabase } from './support/postgres.js';
import { startRedisServer, type RedisTestServer } from './support/redis-server.js';
import { startRedisCluster, type RedisClusterTest } from './support/redis-cluster.js';
import { startFerretDB } from './support/ferretdb.js';
import { WsTestClient } from './support/ws-client.js';
import { ensureNginx, freeLoopbackPort, startNginx, type NginxTestServer } from './support/nginx.js';
import { canConnect, killOnExit, skipUnlessCI, waitExit } from './support/process.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const AMQP_TEST_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PRESENCE_TTL_S = 3;
const execFileP = promisify(execFile);

// ---------------------------------------------------------------- processes

interface ParleyProcess {
  readonly name: string;
  readonly port: number;
  /** 127.0.0.1:<port>, as nginx names it in X-Upstream. */
  readonly addr: string;
  readonly url: string;
  readonly wsUrl: string;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: a crash, no goodbye to anyone. */
  kill9(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL if it hangs. */
  stop(): Promise<void>;
}



/**
 * `node --import tsx src/cli.ts serve --roles <roles>`: what `tsx src/cli.ts` runs, minus
 * the tsx wrapper process, so the pid is the server's own and SIGKILL kills the server.
 */
async function spawnParley(name: string, roles: string, env: Record<string, string>): Promise<ParleyProcess> {
  const port = await freeLoopbackPort();
  let out = '';
  const spawnOnce = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--roles', roles], {
      cwd: REPO_ROOT,
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(child);
    const collect = (d: Buffer) => (out = (out + d.toString()).slice(-400_000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let mine = '';
    let started = false;
    child.stdout!.on('data', (d: Buffer) => {
      if (started) return;
      mine += d.toString();
      started = mine.includes('"parley started"');
    });
    const deadline = Date.now() + 120_000;
    while (!started) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`${name} did not start:\n${out.slice(-4000)}`);
      }
      await sleep(50);
    }
    return child;
  };
  const p: ParleyProcess = {
    name,
    port,
    addr: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    child: await spawnOnce(),
    output: () => out,
    async kill9() {
      p.child.kill('SIGKILL');
      await waitExit(p.child, 5_000);
    },
    async restart() {
      p.child = await spawnOnce();
    },
    async stop() {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      if (!(await waitExit(p.child, 15_000))) {
        p.child.kill('SIGKILL');
        await waitExit(p.child, 5_000);
      }
    },
  };
  return p;
}

/** rabbitmqctl, bounded: a wedged CLI fails the setup instead of hanging it. */
async function rabbitmqctl(...args: string[]): Promise<void> {
  await execFileP('rabbitmqctl', ['--quiet', ...args], { timeout: 30_000, killSignal: 'SIGKILL' });
}

/** A fresh vhost when rabbitmqctl is here; else the default vhost (queues told apart by AMQP_QUEUE_PREFIX). */
async function amqpForRun(): Promise<{ url: string; drop(): Promise<void> }> {
  const vhost = `parley_fullstack_${randomBytes(4).toString('hex')}`;
  try {
    await rabbitmqctl('add_vhost', vhost);
    await rabbitmqctl('set_permissions', '-p', vhost, new URL(AMQP_TEST_URL).username || 'guest', '.*', '.*', '.*');
  } catch {
    return { url: AMQP_TEST_URL, drop: async () => {} };
  }
  const u = new URL(AMQP_TEST_URL);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return { url: u.toString(), drop: () => rabbitmqctl('delete_vhost', vhost).catch(() => {}) };
}

interface Stack {
  nginx: NginxTestServer;
  api: ParleyProcess;
  ws: [ParleyProcess, ParleyProcess];
  worker: ParleyProcess;
  /** The dedicated redis-server, or null when the stack runs on a Redis Cluster. */
  redis: RedisTestServer | null;
  /** REDIS_KEY_PREFIX of every process (bus channels are this + topic). */
  keyPrefix: string;
  /** Where messages live: MongoDB (FerretDB, or MONGODB_URL) or, if neither can be had, PostgreSQL. */
  messageStore: string;
  /** Error-level log lines of every process. */
  errors(): string[];
  stop(): Promise<void>;
}

/** Starts the stack; with `cluster`, every process uses that Redis Cluster (REDIS_CLUSTER=true) instead of a redis-server of its own. */
async function startStack(opts: { cluster?: RedisClusterTest } = {}): Promise<Stack> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error('cleanup failed:', err));
  };
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-fullstack-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const [redis, db, amqp, mongo] = await Promise.all([opts.cluster ? null : startRedisServer(), createTestDatabase(), amqpForRun(), startFerretDB()]);
    if (redis) cleanups.push(() => redis.stop());
    cleanups.push(() => db.drop(), () => amqp.drop());
    if (mongo) cleanups.push(() => mongo.stop());

    const keyPrefix = `fullstack-${randomBytes(4).toString('hex')}:`;
    // Only this run's settings: none of the caller's Parley variables leak in, nor the test
    // runner's own (NODE_TEST_CONTEXT would make a server think it is a test file).
    const env: Record<string, string> = Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !(e[0] in CONFIG_SPEC) && e[0] !== 'NODE_TEST_CONTEXT'),
    );
    Object.assign(env, {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: db.url,
      ...(mongo ? { MONGODB_URL: mongo.url, MONGODB_DATABASE: `parley_fullstack_${randomBytes(4).toString('hex')}` } : {}),
      REDIS_URL: opts.cluster ? opts.cluster.url : redis!.url,
      REDIS_CLUSTER: opts.cluster ? 'true' : 'false',
      REDIS_KEY_PREFIX: keyPrefix,
      AMQP_URL: amqp.url,
      // Classic queues: only the job contract suite exercises quorum queues (each one is a Raft
      // group, and hundreds of them at once overload a single loaded test broker).
      AMQP_QUEUE_TYPE: 'classic',
      AMQP_QUEUE_PREFIX: `fullstack_${randomBytes(4).toString('hex')}`,
      TRUST_PROXY: '127.0.0.1',
      SHUTDOWN_GRACE: '2s',
      PRESENCE_TTL: `${PRESENCE_TTL_S}s`,
      RATE_LIMIT_SIGNUP_IP: '100000/10m',
      RATE_LIMIT_LOGIN_IP: '100000/10m',
      RATE_LIMIT_WS_SEND: '100000/1s',
      RATE_LIMIT_WS_TYPING: '100000/1s',
    });
    // All at once: each applies the pending migrations at start, safely from several processes.
    const started = await Promise.allSettled([spawnParley('api', 'api', env), spawnParley('ws1', 'ws', env), spawnParley('ws2', 'ws', env), spawnParley('worker', 'worker', env)]);
    for (const s of started) if (s.status === 'fulfilled') cleanups.push(() => s.value.stop());
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [api, ws1, ws2, worker] = started.map((s) => (s as PromiseFulfilledResult<ParleyProcess>).value) as [ParleyProcess, ParleyProcess, ParleyProcess, ParleyProcess];
    const nginx = await startNginx({ api: [api.addr], ws: [ws1.addr, ws2.addr] });
    cleanups.push(() => nginx.stop());
    const procs = [api, ws1, ws2, worker];
    const errors = () => procs.flatMap((p) => p.output().split('\n').filter((l) => /"level":(50|60)/.test(l)).map((l) => `${p.name}: ${l}`));
    const messageStore = mongo ? (process.env.MONGODB_URL ? 'MongoDB (MONGODB_URL)' : 'MongoDB (FerretDB)') : 'PostgreSQL (no MongoDB server could be had)';
    return { nginx, api, ws: [ws1, ws2], worker, redis, keyPrefix, messageStore, errors, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------- SDK clients, instrumented

type Msg = Message;

/**
 * A `ParleyClient` (the SDK: reconnect with backoff, resume from the cursor, gap fill by
 * seq, outbox with the same `clientMsgId` on every retry, store by rev) with what the tests
 * look at recorded beside it: the gateway of each connection (nginx's X-Upstream on the
 * upgrade response), every message frame and ack seen (ids per seq, to catch a seq held by
 * two messages), how each message was first surfaced, and the other events.
 */
class Probe {
  readonly client: ParleyClient;
  /** The gateway of each connection: the last server nginx tried. */
  readonly upstreams: string[] = [];
  /** Every X-Upstream as sent: "a, b" when nginx tried a first (a dead gateway) and moved on. */
  readonly tried: string[] = [];
  readonly readyAt: number[] = [];
  /** Times the connection was lost (the SDK went to `reconnecting` after being open). */
  readonly lostAt: number[] = [];
  /** Non-message events (typing, presence, sync.required, gap.filled...), with when they came. */
  readonly events: { at: number; type: string; payload: any }[] = [];
  /** Every id seen per seq, from frames and acks. */
  readonly seqIds = new Map<number, Set<string>>();
  /** `message.new` emissions of the SDK per message id: an app sees each message once. */
  readonly surfaced = new Map<string, number>();
  readonly firstSeen = new Map<string, number>();
  readonly sentAt = new Map<string, number>();
  readonly counts = { live: 0, replay: 0, gap: 0 };
  readonly problems: string[] = [];

  constructor(
    readonly name: string,
    readonly user: TestUser,
    readonly conversationId: string,
    /** Where the WebSocket (re)connects: nginx, or one gateway directly. */
    wsUrl: string,
    /** REST (nginx). */
    api: string,
  ) {
    const onUpgrade = (via: string) => {
      this.tried.push(via);
      this.upstreams.push(via.split(',').at(-1)!.trim());
    };
    class TrackedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        this.on('upgrade', (res) => onUpgrade(String(res.headers['x-upstream'] ?? wsUrl)));
      }
    }
    const c = (this.client = new ParleyClient({ baseUrl: api, wsUrl, tokens: { accessToken: user.accessToken, refreshToken: user.refreshToken }, WebSocketImpl: TrackedWebSocket }));
    const rt = c.realtime;
    const seen = (m: Msg) => {
      if (m.conversationId !== conversationId) return;
      let ids = this.seqIds.get(m.seq);
      if (!ids) this.seqIds.set(m.seq, (ids = new Set()));
      ids.add(m.id);
    };
    for (const t of ['message.new', 'message.updated', 'reaction.updated', 'message.deleted'] as const) rt.on(t, (e: any) => e.message && seen(e.message as Msg));
    rt.on('ack', (e) => e.message && seen(e.message));
    c.on('message.new', ({ message }) => {
      if (message.conversationId !== conversationId) return;
      this.surfaced.set(message.id, (this.surfaced.get(message.id) ?? 0) + 1);
      if (!this.firstSeen.has(message.id)) this.firstSeen.set(message.id, Date.now());
      if (rt.resuming) this.counts.replay += 1;
      else this.counts.live += 1;
    });
    c.on('gap.filled', (e) => {
      // Those were counted as live when emitted (inside the fill): move them.
      this.counts.gap += e.count;
      this.counts.live -= e.count;
    });
    c.on('ready', () => this.readyAt.push(Date.now()));
    c.on('connection.state', (e) => {
      if (e.state === 'reconnecting' && e.closeCode !== undefined) this.lostAt.push(Date.now());
    });
    for (const t of ['typing', 'presence', 'sync.required', 'resuming', 'gap.filled'] as const) c.on(t, (payload: any) => this.events.push({ at: Date.now(), type: t, payload }));
    c.on('outbox.failed', (e) => this.problems.push(`outbox.failed ${e.item.clientMsgId}: ${e.error.code} ${e.error.message}`));
    c.on('resume.failed', (e) => this.problems.push(`resume.failed: ${e.error.code} ${e.error.message}`));
    c.on('session.ended', (e) => this.problems.push(`session.ended: ${e.reason}`));
  }

  get upstream(): string | undefined {
    return this.upstreams.at(-1);
  }

  /** Loads the newest history, connects, waits for `ready`. */
  async start(): Promise<void> {
    await this.client.loadMessages(this.conversationId);
    await this.client.connect();
  }

  /** Sends through the outbox; resolves with the stored message once acknowledged. */
  async send(text: string): Promise<Msg> {
    const at = Date.now();
    const q = await this.client.sendMessage(this.conversationId, { text });
    this.sentAt.set(q.item.clientMsgId, at);
    return q.delivered;
  }

  typing(): void {
    this.client.typing(this.conversationId);
  }

  /** The messages the app holds for the conversation, ascending by seq. */
  held(): Msg[] {
    return this.client.store.messages(this.conversationId);
  }

  /** Resolves when `pred` holds (checked on every event and every 50 ms). */
  async waitUntil(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`${this.name}: timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  async waitEvent(type: string, pred: (payload: any) => boolean, timeoutMs: number, what: string): Promise<{ at: number; payload: any }> {
    const find = () => this.events.find((e) => e.type === type && pred(e.payload));
    await this.waitUntil(() => find() !== undefined, timeoutMs, what);
    return find()!;
  }

  close(): void {
    this.client.disconnect();
  }
}

// ---------------------------------------------------------------- helpers

async function history(api: string, u: TestUser, conversationId: string): Promise<Msg[]> {
  const all: Msg[] = [];
  let after = 0;
  for (;;) {
    const r = await call(api, 'GET', `/v1/conversations/${conversationId}/messages?after=${after}&limit=200`, { token: u.accessToken });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    all.push(...(r.body.messages as Msg[]));
    if (!r.body.hasMore) return all;
    after = all.at(-1)!.seq;
  }
}

async function group(api: string, owner: TestUser, members: TestUser[]): Promise<string> {
  const g = await call(api, 'POST', '/v1/conversations', { token: owner.accessToken, body: { type: 'group', title: 'fullstack', memberIds: members.map((m) => m.id) } });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  return g.body.id as string;
}

/**
 * The client holds exactly the server's messages: seqs 1..N, each the server's message of
 * that seq, no seq ever seen with two different messages, each surfaced to the app once.
 */
function assertHoldsExactly(p: Probe, server: Msg[]): void {
  const n = server.length;
  assert.deepEqual(
    server.map((m) => m.seq),
    Array.from({ length: n }, (_, i) => i + 1),
    'the server history has seqs 1..N',
  );
  const held = p.held();
  assert.deepEqual(
    held.map((m) => m.seq),
    Array.from({ length: n }, (_, i) => i + 1),
    `${p.name}: seqs 1..${n}`,
  );
  assert.deepEqual(
    held.map((m) => m.id),
    server.map((m) => m.id),
    `${p.name}: the server's message at every seq`,
  );
  assert.deepEqual(
    [...p.seqIds].filter(([, ids]) => ids.size > 1),
    [],
    `${p.name}: a seq seen with two messages`,
  );
  assert.deepEqual(
    [...p.surfaced].filter(([, k]) => k !== 1),
    [],
    `${p.name}: a message surfaced more than once`,
  );
}

interface Flow {
  /** All acknowledged messages, once every send was acknowledged. */
  done: Promise<Msg[]>;
  acked(): number;
  readonly total: number;
}

/**
 * Each client sends `count` messages, one every `everyMs` at most, with at most `window`
 * not yet acknowledged (an app does not pile up more than its outbox can deliver).
 */
function flow(clients: Probe[], count: number, tag: string, opts: { everyMs?: number; window?: number } = {}): Flow {
  const { everyMs = 20, window = 3 } = opts;
  let acked = 0;
  const one = async (c: Probe): Promise<Msg[]> => {
    const out: Promise<Msg>[] = [];
    const inFlight = new Set<Promise<Msg>>();
    for (let i = 0; i < count; i++) {
      while (inFlight.size >= window) await Promise.race(inFlight);
      const tracked: Promise<Msg> = c.send(`${tag} ${c.name} #${i}`).then((m) => (inFlight.delete(tracked), (acked += 1), m));
      inFlight.add(tracked);
      out.push(tracked);
      await sleep(everyMs);
    }
    return Promise.all(out);
  };
  return { done: Promise.all(clients.map(one)).then((xs) => xs.flat()), acked: () => acked, total: clients.length * count };
}

/** Waits until `pred` holds, polling. */
async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sum = (ps: Probe[], k: keyof Probe['counts']) => ps.reduce((n, p) => n + p.counts[k], 0);

// ---------------------------------------------------------------- the tests

const nginxBin = await ensureNginx();
const nginxSkip = skipUnlessCI('error' in nginxBin ? nginxBin.error : false);

describe('full stack behind Nginx: 1 API, 2 WebSocket gateways, 1 worker', { skip: nginxSkip }, () => {
  let stack: Stack;
  const probes: Probe[] = [];
  const probe = (...args: ConstructorParameters<typeof Probe>) => {
    const p = new Probe(...args);
    probes.push(p);
    return p;
  };

  before(async () => {
    const t0 = Date.now();
    stack = await startStack();
    console.log(
      `# full stack up in ${((Date.now() - t0) / 1000).toFixed(1)}s: nginx :${stack.nginx.port}, api :${stack.api.port}, ws :${stack.ws[0].port} :${stack.ws[1].port}, ` +
        `worker :${stack.worker.port}, redis :${stack.redis?.port}, messages in ${stack.messageStore}`,
    );
  });
  after(async () => {
    for (const p of probes) p.close();
    // What the servers logged as errors (expected ones: Redis going away in the last test).
    const errors = stack?.errors() ?? [];
    if (errors.length) console.log(`# ${errors.length} error log lines, the first ones:\n${errors.slice(0, 4).map((l) => `#   ${l.slice(0, 300)}`).join('\n')}`);
    await stack?.stop();
  });

  test('REST goes to the API process: request ids, forwarded headers, body limit, no /metrics outside', async () => {
    const { nginx, api } = stack;
    const r = await call(nginx.url, 'GET', '/healthz', { headers: { 'x-request-id': 'fullstack-rid-1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-upstream'), api.addr);
    assert.equal(r.headers.get('x-request-id'), 'fullstack-rid-1');
    // Nginx passes X-Forwarded-For on (appending the address it saw), and the API, which
    // trusts 127.0.0.1 (TRUST_PROXY), takes the client address from it. Here the client is
    // on loopback too, so the one given before it is the first untrusted hop.
    const fwd = await call(nginx.url, 'GET', '/healthz', { headers: { 'x-request-id': 'fullstack-rid-2', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(fwd.status, 200);
    // Parley logged each request under the id nginx passed on.
    const logged = (rid: string) => api.output().split('\n').find((l) => l.includes(`"reqId":"${rid}"`) && l.includes('remoteAddress'));
    await until(() => logged('fullstack-rid-1') !== undefined && logged('fullstack-rid-2') !== undefined, 5000, 'the request log lines');
    assert.match(logged('fullstack-rid-2') ?? '', /"remoteAddress":"203\.0\.113\.9"/, 'the forwarded client address reached the API');
    const fresh = (await call(nginx.url, 'GET', '/healthz')).headers.get('x-request-id');
    assert.match(fresh ?? '', /^[0-9a-f]{32}$/, 'nginx makes a request id when the client sent none');
    // Bodies over BODY_LIMIT_BYTES stop at nginx (413), like at Parley.
    const big = await call(nginx.url, 'POST', '/v1/auth/signup', { rawBody: JSON.stringify({ pad: 'x'.repeat(1_100_000) }) });
    assert.equal(big.status, 413);
    assert.equal((await call(nginx.url, 'GET', '/metrics')).status, 403);
    assert.equal((await call(api.url, 'GET', '/metrics')).status, 200, 'each process is scraped directly');
  });

  test('two gateways: a client on each gets the other one’s messages, typing and presence in real time', async () => {
    const { nginx } = stack;
    const [alice, bob] = await Promise.all([signup(nginx.url, 'alice'), signup(nginx.url, 'bob')]);
    const cid = await group(nginx.url, alice, [bob]);
    const a = probe('a', alice, cid, nginx.wsUrl, nginx.url);
    await a.start();
    const b = probe('b', bob, cid, nginx.wsUrl, nginx.url);
    await b.start();
    // least_conn sends the second connection to the other gateway.
    assert.deepEqual([a.upstream, b.upstream].sort(), stack.ws.map((w) => w.addr).sort(), `one client on each gateway (${a.upstream}, ${b.upstream})`);

    // Presence crosses gateways: bob connected on the other gateway, alice sees him online.
    await a.waitEvent('presence', (e) => e.userId === bob.id && e.status === 'online', 5000, 'bob online');
    // Typing crosses gateways, both ways.
    b.typing();
    await a.waitEvent('typing', (e) => e.userId === bob.id && e.conversationId === cid, 5000, 'bob typing');
    a.typing();
    await b.waitEvent('typing', (e) => e.userId === alice.id && e.conversationId === cid, 5000, 'alice typing');

    // Messages cross gateways, both ways, live (no resume, no gap fill).
    const N = 20;
    const sent = await flow([a, b], N, 'rt', { everyMs: 30, window: 1 }).done;
    const server = await history(nginx.url, alice, cid);
    await Promise.all([a, b].map((p) => p.waitUntil(() => p.held().length >= server.length, 10_000, 'every message')));
    for (const p of [a, b]) assertHoldsExactly(p, server);
    assert.equal(sum([a, b], 'replay') + sum([a, b], 'gap'), 0, 'everything arrived live');
    const latencies = sent.map((m) => {
      const [from, to] = m.senderId === alice.id ? [a, b] : [b, a];
      return to.firstSeen.get(m.id)! - from.sentAt.get(m.clientMsgId)!;
    });
    console.log(`# ${2 * N} messages across gateways, send → shown on the other gateway's client: median ${median(latencies)} ms, max ${Math.max(...latencies)} ms`);

    // Bob leaves: alice, on the other gateway, sees him go offline.
    b.close();
    await a.waitEvent('presence', (e) => e.userId === bob.id && e.status === 'offline', 5000, 'bob offline');
    a.close();
    assert.deepEqual([...a.problems, ...b.problems], []);
  });

  test('kill -9 a gateway while messages flow: its clients reconnect through nginx and hold every message exactly once', async () => {
    const { nginx } = stack;
    const users = await Promise.all(['k1', 'k2', 'k3', 'k4', 'kc'].map((n) => signup(nginx.url, n)));
    const carolUser = users[4]!;
    const cid = await group(nginx.url, users[0]!, users.slice(1));
    // Four SDK clients through nginx (least_conn: two on each gateway)...
    const ps: Probe[] = [];
    for (const [i, u] of users.slice(0, 4).entries()) {
      const p = probe(`k${i + 1}`, u, cid, nginx.wsUrl, nginx.url);
      await p.start();
      ps.push(p);
    }
    const on = (addr: string) => ps.filter((p) => p.upstream === addr);
    const victim = stack.ws.find((w) => on(w.addr).length > 0)!;
    const survivor = stack.ws.find((w) => w !== victim)!;
    assert.ok(on(victim.addr).length >= 1 && on(survivor.addr).length >= 1, `clients on both gateways: ${ps.map((p) => p.upstream).join(', ')}`);
    // ...and carol straight on the victim, who will not come back: the others must see her
    // go offline by themselves (presence expiry), with no gateway left to say so.
    const carol = await WsTestClient.connect(victim.wsUrl, carolUser.accessToken);
    const watcher = on(survivor.addr)[0]!;
    await watcher.waitEvent('presence', (e) => e.userId === carolUser.id && e.status === 'online', 5000, 'carol online');

    const PER_CLIENT = 30;
    const flowing = flow(ps, PER_CLIENT, 'kill');
    // Kill once a third of the messages went through: mid-flow, however fast the machine.
    await until(() => flowing.acked() >= flowing.total / 3, 60_000, 'a third of the sends');
    const killedAt = Date.now();
    await victim.kill9();
    try {
      const acked = await flowing.done;
      const allSentAt = Date.now();

      // Everyone converges on the server's history.
      const server = await history(nginx.url, users[0]!, cid);
      const userMsgs = server.filter((m) => m.kind === 'user');
      assert.equal(userMsgs.length, flowing.total, 'every send stored once (retries were idempotent)');
      assert.equal(new Set(userMsgs.map((m) => m.clientMsgId)).size, userMsgs.length);
      assert.deepEqual(new Set(acked.map((m) => m.id)), new Set(userMsgs.map((m) => m.id)));
      await Promise.all(ps.map((p) => p.waitUntil(() => p.held().length >= server.length, 30_000, `all ${server.length} messages (has ${p.held().length})`)));
      await Promise.all(ps.map((p) => p.client.settled()));
      for (const p of ps) assertHoldsExactly(p, server);

      const moved = ps.filter((p) => p.upstreams.includes(victim.addr));
      assert.ok(moved.length >= 1, 'some clients were on the killed gateway');
      assert.deepEqual(on(victim.addr), [], 'no client is left on the killed gateway');
      const reconnectMs = moved.map((p) => {
        assert.equal(p.upstream, survivor.addr, `${p.name} reconnected through nginx to the other gateway`);
        const readyAfterKill = p.readyAt.find((t) => t >= killedAt);
        assert.ok(readyAfterKill, `${p.name} got ready again`);
        return readyAfterKill - killedAt;
      });
      for (const p of ps.filter((x) => !moved.includes(x))) assert.deepEqual(p.lostAt, [], `${p.name} on the survivor was not disturbed`);
      assert.deepEqual(
        ps.flatMap((p) => p.problems),
        [],
      );
      // Carol's connection died with the gateway; her presence expires (PRESENCE_TTL) and the
      // survivor's reaper announces it. The clients that moved never looked offline.
      const off = await watcher.waitEvent('presence', (e) => e.userId === carolUser.id && e.status === 'offline', (PRESENCE_TTL_S + 5) * 1000, 'carol offline');
      for (const p of moved) {
        assert.ok(!watcher.events.some((e) => e.type === 'presence' && e.payload.userId === p.user.id && e.payload.status === 'offline'), `${p.name} never shown offline`);
      }
      console.log(
        `# kill -9: ${userMsgs.length} messages from ${ps.length} SDK clients (${moved.length} on the killed gateway), all acknowledged ${allSentAt - killedAt} ms after the kill; ` +
          `reconnect (kill → ready on the other gateway) ${reconnectMs.join(', ')} ms; first surfaced live ${sum(ps, 'live')}, by the resume replay ${sum(ps, 'replay')}, by gap fill ${sum(ps, 'gap')}; ` +
          `carol shown offline ${off.at - killedAt} ms after the kill (PRESENCE_TTL ${PRESENCE_TTL_S}s); ` +
          `nginx X-Upstream of the reconnections: ${moved.map((p) => `"${p.tried[p.readyAt.findIndex((t) => t >= killedAt)]}"`).join(', ')}`,
      );
    } finally {
      for (const p of ps) p.close();
      carol.close();
      // Bring the gateway back for what follows.
      await victim.restart();
    }
  });

  test('restart Redis while messages flow: gateways resubscribe (sync.required) and no client misses a message', async () => {
    const { nginx } = stack;
    const redis = stack.redis!;
    const users = await Promise.all(['r1', 'r2', 'r3'].map((n) => signup(nginx.url, n)));
    const cid = await group(nginx.url, users[0]!, users.slice(1));
    // One client straight on each gateway, one through nginx.
    const [ws1, ws2] = stack.ws;
    const ps = [probe('r1', users[0]!, cid, ws1.wsUrl, nginx.url), probe('r2', users[1]!, cid, ws2.wsUrl, nginx.url), probe('r3', users[2]!, cid, nginx.wsUrl, nginx.url)];
    for (const p of ps) await p.start();

    const PER_CLIENT = 30;
    const flowing = flow(ps, PER_CLIENT, 'redis');
    await until(() => flowing.acked() >= flowing.total / 3, 60_000, 'a third of the sends');
    const t0 = Date.now();
    // A crash, a second of outage, and a new, empty server on the same port.
    await redis.kill();
    await sleep(1000);
    await redis.restart();
    const restartedMs = Date.now() - t0;
    await flowing.done;
    const sentMs = Date.now() - t0;

    // Both gateways came back to Redis and told their clients to resume.
    for (const p of ps) await p.waitEvent('sync.required', () => true, 15_000, 'sync.required');
    const syncAt = ps.map((p) => p.events.find((e) => e.type === 'sync.required')!.at - t0);

    // Subscriptions are back: a message sent now reaches everyone live.
    const liveBefore = ps.map((p) => p.counts.live);
    const probeMsg = await ps[0]!.send('after the restart');
    await Promise.all(ps.map((p) => p.waitUntil(() => p.firstSeen.has(probeMsg.id), 5000, 'the message sent after the restart')));
    assert.ok(
      ps.slice(1).every((p, i) => p.counts.live > liveBefore[i + 1]!),
      'it arrived live on both gateways',
    );

    const server = await history(nginx.url, users[0]!, cid);
    assert.equal(server.filter((m) => m.kind === 'user').length, flowing.total + 1, 'every send stored once');
    await Promise.all(ps.map((p) => p.waitUntil(() => p.held().length >= server.length, 30_000, `all ${server.length} messages (has ${p.held().length})`)));
    await Promise.all(ps.map((p) => p.client.settled()));
    for (const p of ps) assertHoldsExactly(p, server);
    assert.deepEqual(
      ps.flatMap((p) => p.problems),
      [],
    );
    const refused = stack.errors().filter((l) => l.includes('websocket frame failed')).length;
    console.log(
      `# redis restart: killed, back ${restartedMs} ms later; ${server.length} messages; sync.required at ${syncAt.join(', ')} ms; ` +
        `sends refused during the outage (and resent by the outbox): ${refused}; all acknowledged ${sentMs} ms after the kill; ` +
        `first surfaced live ${sum(ps, 'live')}, by the resume replay ${sum(ps, 'replay')}, by gap fill ${sum(ps, 'gap')}`,
    );
    for (const p of ps) p.close();
  });
});

// ---------------------------------------------------------------- the script itself

/** A base port P with P..P+5 all free (the script's Nginx, API, gateways, worker, FerretDB). */
async function freePortRange(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const taken = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => canConnect(base + i)));
    if (!taken.some(Boolean)) return base;
  }
  throw new Error('no free range of 6 ports');
}

describe('npm run start:fullstack survives a dead process, as the systemd units do', { skip: nginxSkip }, () => {
  test('kill -9 a gateway started by the script: the others keep serving, it is restarted (logged), clients lose nothing', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-fullstack-script-'));
    const [db, amqp, mongo] = await Promise.all([createTestDatabase(), amqpForRun(), startFerretDB()]);
    const port = await freePortRange();
    const env: Record<string, string> = Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !(e[0] in CONFIG_SPEC) && e[0] !== 'NODE_TEST_CONTEXT'),
    );
    Object.assign(env, {
      PORT: String(port),
      HOST: '127.0.0.1',
      FULLSTACK_STATE: state,
      DATABASE_URL: db.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `fullstack-script-${randomBytes(4).toString('hex')}:`,
      AMQP_URL: amqp.url,
      // Classic queues: only the job contract suite exercises quorum queues (each one is a Raft
      // group, and hundreds of them at once overload a single loaded test broker).
      AMQP_QUEUE_TYPE: 'classic',
      AMQP_QUEUE_PREFIX: `fullstack_script_${randomBytes(4).toString('hex')}`,
      ...(mongo ? { MONGODB_URL: mongo.url, MONGODB_DATABASE: `parley_script_${randomBytes(4).toString('hex')}` } : {}),
      SHUTDOWN_GRACE: '2s',
      RATE_LIMIT_SIGNUP_IP: '100000/10m',
      RATE_LIMIT_LOGIN_IP: '100000/10m',
      RATE_LIMIT_WS_SEND: '100000/1s',
    });
    const script = spawn('bash', ['scripts/fullstack.sh'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(script);
    let out = '';
    script.stdout.on('data', (d: Buffer) => (out += d.toString()));
    script.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const pidOf = (name: string) => Number(readFileSync(join(state, 'run', `${name}.pid`), 'utf8').trim());
    const ps: Probe[] = [];
    try {
      // The script builds Parley (tsc, the web client) before it starts anything: minutes on a loaded machine.
      await until(() => out.includes('Parley full stack:') || script.exitCode !== null, 15 * 60_000, 'the script to start the stack');
      assert.equal(script.exitCode, null, `the script exited:\n${out.slice(-3000)}`);
      const base = `http://127.0.0.1:${port}`;
      const wsUrl = `ws://127.0.0.1:${port}/v1/ws`;
      const gateways = [{ name: 'ws1', addr: `127.0.0.1:${port + 2}` }, { name: 'ws2', addr: `127.0.0.1:${port + 3}` }];

      const users = await Promise.all(['s1', 's2', 's3', 's4'].map((n) => signup(base, n)));
      const cid = await group(base, users[0]!, users.slice(1));
      for (const [i, u] of users.entries()) {
        const p = new Probe(`s${i + 1}`, u, cid, wsUrl, base);
        await p.start();
        ps.push(p);
      }
      const victim = gateways.find((g) => ps.some((p) => p.upstream === g.addr));
      assert.ok(victim, `clients on a gateway: ${ps.map((p) => p.upstream).join(', ')}`);
      const victimPid = pidOf(victim.name);
      const apiPid = pidOf('api');

      const flowing = flow(ps, 20, 'script');
      await until(() => flowing.acked() >= flowing.total / 3, 60_000, 'a third of the sends');
      process.kill(victimPid, 'SIGKILL');
      // The others keep serving meanwhile: REST through Nginx answers at once.
      const during = await call(base, 'GET', '/v1/me', { token: users[0]!.accessToken });
      assert.equal(during.status, 200);

      const acked = await flowing.done;
      const server = await history(base, users[0]!, cid);
      const userMsgs = server.filter((m) => m.kind === 'user');
      assert.equal(userMsgs.length, flowing.total, 'every send stored once');
      assert.deepEqual(new Set(acked.map((m) => m.id)), new Set(userMsgs.map((m) => m.id)));
      await Promise.all(ps.map((p) => p.waitUntil(() => p.held().length >= server.length, 60_000, `all ${server.length} messages (has ${p.held().length})`)));
      await Promise.all(ps.map((p) => p.client.settled()));
      for (const p of ps) assertHoldsExactly(p, server);

      // The dead gateway comes back (a new pid, serving on its port), and the restart is logged.
      await until(() => { try { return pidOf(victim.name) !== victimPid; } catch { return false; } }, 60_000, `${victim.name} to be restarted`);
      const victimPort = Number(victim.addr.split(':')[1]);
      let healthy = false;
      for (const deadline = Date.now() + 120_000; !healthy && Date.now() < deadline; ) {
        healthy = await fetch(`http://${victim.addr}/healthz`).then((r) => r.ok, () => false);
        if (!healthy) await sleep(200); // poll interval
      }
      assert.ok(healthy, `${victim.name} answers on :${victimPort} again`);
      const direct = await WsTestClient.connect(`ws://${victim.addr}/v1/ws`, users[1]!.accessToken);
      direct.close();
      const supervisorLog = readFileSync(join(state, 'logs', 'supervisor.log'), 'utf8');
      assert.match(supervisorLog, new RegExp(`${victim.name} exited \\(status 137\\); restarting in 1s`));
      assert.match(supervisorLog, new RegExp(`${victim.name} restarting`));
      assert.equal(pidOf('api'), apiPid, 'the API was never restarted');
      assert.equal(script.exitCode, null, 'the script keeps running');
      console.log(`# fullstack.sh: killed ${victim.name} (pid ${victimPid}), restarted as pid ${pidOf(victim.name)}; ${userMsgs.length} messages, every client holds every one exactly once`);
    } finally {
      for (const p of ps) p.close();
      script.kill('SIGTERM');
      const exited = await waitExit(script, 60_000);
      if (!exited) script.kill('SIGKILL');
      await Promise.all([db.drop(), amqp.drop(), mongo?.stop()]);
      rmSync(state, { recursive: true, force: true });
      assert.ok(exited, `the script stops on SIGTERM:\n${out.slice(-2000)}`);
    }
  });
});

describe('full stack on a Redis Cluster (3 masters + 3 replicas): sharded pub/sub across gateways, a master killed mid-flow', { skip: nginxSkip }, () => {
  let cluster: RedisClusterTest;
  let stack: Stack;
  const probes: Probe[] = [];
  const probe = (...args: ConstructorParameters<typeof Probe>) => {
    const p = new Probe(...args);
    probes.push(p);
    return p;
  };

  before(async () => {
    const t0 = Date.now();
    cluster = await startRedisCluster();
    stack = await startStack({ cluster });
    console.log(`# cluster full stack up in ${((Date.now() - t0) / 1000).toFixed(1)}s: masters ${(await cluster.masters()).join(', ')}; messages in ${stack.messageStore}`);
  });
  after(async () => {
    for (const p of probes) p.close();
    await stack?.stop();
    await cluster?.stop();
  });

  /** Signs up users until one has a user topic on each of the three masters. */
  async function usersOnEveryShard(tag: string, prefix: string): Promise<TestUser[]> {
    const byMaster = new Map<number, TestUser>();
    for (let i = 0; byMaster.size < 3 && i < 40; i++) {
      const u = await signup(stack.nginx.url, `${tag}${i}`);
      const master = await cluster.masterOf(`${prefix}user:${u.id}`);
      if (!byMaster.has(master)) byMaster.set(master, u);
    }
    assert.equal(byMaster.size, 3, 'users whose topics land on three different shards');
    return [...byMaster.values()];
  }

  test('users whose topics live on different shards get each other’s messages live across the two gateways, then a master is killed mid-flow and every client holds every message exactly once', async () => {
    const { nginx } = stack;
    const [ws1, ws2] = stack.ws;
    // Redis channel of a bus topic, as the gateways name it.
    const prefix = stack.keyPrefix;
    const channel = (topic: string) => `${prefix}${topic}`;
    const users = await usersOnEveryShard('sh', prefix);
    const cid = await group(nginx.url, users[0]!, users.slice(1));
    const ps = [probe('s1', users[0]!, cid, ws1.wsUrl, nginx.url), probe('s2', users[1]!, cid, ws2.wsUrl, nginx.url), probe('s3', users[2]!, cid, nginx.wsUrl, nginx.url)];
    for (const p of ps) await p.start();

    // Live across gateways and shards first.
    const first = await ps[0]!.send('hello across shards');
    const second = await ps[1]!.send('and back');
    await Promise.all(ps.map((p) => p.waitUntil(() => p.firstSeen.has(first.id) && p.firstSeen.has(second.id), 15_000, 'both messages live')));
    assert.equal(sum(ps, 'replay') + sum(ps, 'gap'), 0, 'delivered live, not by catch-up');

    // Then kill -9 the master that holds the conversation's channel while messages flow.
    const PER_CLIENT = 30;
    const flowing = flow(ps, PER_CLIENT, 'cluster');
    await until(() => flowing.acked() >= flowing.total / 3, 60_000, 'a third of the sends');
    const victim = await cluster.masterOf(channel(`conv:${cid}`));
    const t0 = Date.now();
    await cluster.killNode(victim);
    await cluster.waitHealthy(60_000);
    const failoverMs = Date.now() - t0;
    const acked = await flowing.done;
    const sentMs = Date.now() - t0;

    const server = await history(nginx.url, users[0]!, cid);
    const userMsgs = server.filter((m) => m.kind === 'user');
    assert.equal(userMsgs.length, flowing.total + 2, 'every send stored once (retries were idempotent)');
    assert.ok(acked.every((m) => userMsgs.some((u) => u.id === m.id)), 'every acknowledged message is stored');
    await Promise.all(ps.map((p) => p.waitUntil(() => p.held().length >= server.length, 60_000, `all ${server.length} messages (has ${p.held().length})`)));
    await Promise.all(ps.map((p) => p.client.settled()));
    for (const p of ps) assertHoldsExactly(p, server);
    assert.deepEqual(
      ps.flatMap((p) => p.problems),
      [],
    );
    const told = ps.filter((p) => p.events.some((e) => e.type === 'sync.required' && e.at >= t0)).length;
    console.log(
      `# cluster: master :${victim} killed, replica promoted and all slots served ${failoverMs} ms later; ${server.length} messages, all acknowledged ${sentMs} ms after the kill; ` +
        `clients told sync.required: ${told}/${ps.length}; first surfaced live ${sum(ps, 'live')}, by the resume replay ${sum(ps, 'replay')}, by gap fill ${sum(ps, 'gap')}`,
    );
    for (const p of ps) p.close();
  });
});
