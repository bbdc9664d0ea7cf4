/**
 * The load generator of bench/fanout.ts, run in a child process (forked by the parent) so
 * that it never shares the server's event loop. One process plays one role:
 *
 * - `receivers`: N WebSockets that count the `message.new` frames of the benchmark and
 *   measure delivery latency (receive time − the send time the sender put in the text).
 * - `sender`: one WebSocket that sends `message.send` frames, pipelined with a window of
 *   frames in flight, and measures send→ack latency.
 * - `conns`: the connect phase: N sockets opened and held idle, then a reconnect storm.
 *
 * Each server's framing (Parley, Centrifugo, Socket.IO) is a `Wire`; the rest is shared.
 *
 * Times are `process.hrtime` (CLOCK_MONOTONIC: one clock for every process of the machine),
 * in microseconds. The same code drives Parley and the peer servers.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { TEXT_PREFIX, latencyStats, nowUs, type Dial, type FromClient, type Phase, type Proto, type ReceiverReport, type StormPlan, type StormReport, type ToClient } from './fanout-shared.js';

const MARK = Buffer.from(`"text":"${TEXT_PREFIX}`);
const CONNECT_TIMEOUT_MS = 60_000;

function reply(msg: FromClient): void {
  process.send?.(msg);
}

/**
 * What differs between the servers: how a socket authenticates and joins the room, which
 * frame says it is ready, the keep-alive it must answer, and how a send and its ack look.
 * Everything else (timing, counting, the pipelined window) is the same code for all.
 */
interface Wire {
  url(base: string, token: string): string;
  /** Sent when the socket opens (the handshake), if anything. */
  hello(ws: WebSocket, token: string, room: string): void;
  /** Called for every frame until ready; returns true on the frame that means "joined the room". */
  ready(ws: WebSocket, buf: Buffer, room: string): boolean;
  /** Answers the server's keep-alive in `buf`, if it is one (true: nothing else to read in it). */
  keepAlive(ws: WebSocket, buf: Buffer): boolean;
  /** A send of message `text` with request number `n` into `room`. */
  send(n: number, room: string, clientMsgId: string, text: string): string;
  /** The replies to sends in `buf`: request number and error text (undefined: an ack). */
  replies(buf: Buffer): { n: number; error?: string }[];
}

/** The message body a peer relays, the same shape (and about the same size) as Parley's `message`. */
function peerMessage(room: string, clientMsgId: string, text: string): Record<string, unknown> {
  return {
    id: randomUUID(),
    conversationId: room,
    seq: 0,
    rev: 1,
    senderId: 'bench-sender',
    clientMsgId,
    kind: 'user',
    text,
    attachments: [],
    mentions: [],
    reactions: {},
    createdAt: new Date().toISOString(),
  };
}

const parleyWire: Wire = {
  url: (base, token) => `${base}?token=${encodeURIComponent(token)}`,
  hello: () => {},
  ready: () => true, // the first frame is `ready` (Parley sends it once the socket is subscribed; the peers at once)
  keepAlive: () => false, // the server pings at the WebSocket level; ws answers
  send: (n, room, clientMsgId, text) => JSON.stringify({ type: 'message.send', id: String(n), conversationId: room, clientMsgId, text }),
  replies(buf) {
    // Only acks and errors carry our ids; skip everything else (our own message.new...) cheaply.
    const head = buf.subarray(0, 32).toString();
    const isAck = head.startsWith('{"type":"ack"');
    if (!isAck && !head.startsWith('{"type":"error"')) return [];
    const f = JSON.parse(buf.toString()) as { id?: string; message?: string };
    if (typeof f.id !== 'string') return [];
    return [isAck ? { n: Number(f.id) } : { n: Number(f.id), error: f.message ?? JSON.stringify(f) }];
  },
};

/** Centrifugo's JSON protocol: commands and replies with numeric ids, several per frame (one a line). */
const centrifugoWire: Wire = {
  url: (base) => base,
  hello: (ws, token) => ws.send(JSON.stringify({ id: 1, connect: { token, name: 'bench' } })),
  ready(ws, buf, room) {
    for (const line of buf.toString().split('\n')) {
      if (!line) continue;
      const f = JSON.parse(line) as { id?: number; error?: { message?: string } };
      if (f.error && (f.id === 1 || f.id === 2)) throw new Error(`centrifugo ${f.id === 1 ? 'connect' : 'subscribe'}: ${JSON.stringify(f.error)}`);
      if (f.id === 1) ws.send(JSON.stringify({ id: 2, subscribe: { channel: room } }));
      if (f.id === 2) return true;
    }
    return false;
  },
  keepAlive(ws, buf) {
    // The server's ping is an empty command `{}`, answered with `{}`; it may share a frame with pushes.
    if (buf.length === 2 && buf[0] === 0x7b && buf[1] === 0x7d) {
      ws.send('{}');
      return true;
    }
    if (buf.indexOf('\n{}') >= 0 || buf.indexOf('{}\n') === 0) ws.send('{}');
    return false;
  },
  send: (n, room, clientMsgId, text) => JSON.stringify({ id: n, publish: { channel: room, data: peerMessage(room, clientMsgId, text) } }),
  replies(buf) {
    if (buf.indexOf('"publish"') < 0 && buf.indexOf('"error"') < 0) return [];
    const out: { n: number; error?: string }[] = [];
    for (const line of buf.toString().split('\n')) {
      if (!line || line.startsWith('{"push"')) continue;
      const f = JSON.parse(line) as { id?: number; publish?: unknown; error?: unknown };
      if (typeof f.id !== 'number' || f.id < 10) continue;
      out.push(f.error ? { n: f.id, error: JSON.stringify(f.error) } : { n: f.id });
    }
    return out;
  },
};

/**
 * Socket.IO 4 over a bare WebSocket (Engine.IO v4): `0{...}` open, `40{auth}` connect to the
 * default namespace, `2`/`3` ping/pong, `42[event,data]` events and `42<n>[...]`/`43<n>[...]`
 * an event with an ack. The bench's server (bench/socketio-node.ts) joins the socket to the
 * room named in the auth payload and emits `ready`.
 */
const socketioWire: Wire = {
  url: (base) => `${base}?EIO=4&transport=websocket`,
  hello: (ws, token, room) => ws.send(`40${JSON.stringify({ token, room })}`),
  ready(_ws, buf) {
    if (buf.length >= 2 && buf[0] === 0x34 && buf[1] === 0x34) throw new Error(`socket.io connect refused: ${buf.toString()}`); // 44: connect_error
    return buf.toString() === '42["ready"]';
  },
  keepAlive(ws, buf) {
    if (buf.length === 1 && buf[0] === 0x32) {
      ws.send('3');
      return true;
    }
    return false;
  },
  send: (n, room, clientMsgId, text) => `42${n}${JSON.stringify(['send', peerMessage(room, clientMsgId, text)])}`,
  replies(buf) {
    if (buf[0] !== 0x34 || buf[1] !== 0x33) return []; // 43<n>[...]
    let i = 2;
    let n = 0;
    for (let c = buf[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = buf[++i]) n = n * 10 + (c - 0x30);
    const args = JSON.parse(buf.subarray(i).toString()) as [{ error?: string }?];
    return [args[0]?.error ? { n, error: args[0].error } : { n }];
  },
};

const WIRES: Record<Proto, Wire> = { parley: parleyWire, centrifugo: centrifugoWire, socketio: socketioWire };

/** One socket, authenticated and in the room (the server said so), or an error after CONNECT_TIMEOUT_MS. */
function connect(dial: Dial, base: string, token: string): Promise<WebSocket> {
  const wire = WIRES[dial.proto];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wire.url(base, token), { perMessageDeflate: false });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`not ready within ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('close', (code) => fail(new Error(`closed before ready (${code})`)));
    ws.once('open', () => wire.hello(ws, token, dial.room));
    const onFrame = (data: RawData): void => {
      const buf = data as Buffer;
      if (wire.keepAlive(ws, buf)) return;
      let ok: boolean;
      try {
        ok = wire.ready(ws, buf, dial.room);
      } catch (err) {
        fail(err as Error);
        return;
      }
      if (!ok) return;
      clearTimeout(timer);
      ws.off('message', onFrame);
      ws.removeAllListeners('close');
      ws.off('error', fail);
      ws.on('error', () => {});
      // Keep-alives for the rest of the socket's life (the phases add their own listeners).
      if (dial.proto !== 'parley') ws.on('message', (d: RawData) => void wire.keepAlive(ws, d as Buffer));
      resolve(ws);
    };
    ws.on('message', onFrame);
  });
}

/** Opens one socket per token with `concurrency` handshakes in flight, spread over the URLs round-robin. */
async function connectAll(dial: Dial, tokens: readonly string[], concurrency: number): Promise<{ sockets: WebSocket[]; urls: string[]; firstUs: number; lastUs: number }> {
  const out: WebSocket[] = new Array<WebSocket>(tokens.length);
  const urls = tokens.map((_, i) => dial.wsUrls[i % dial.wsUrls.length]!);
  let next = 0;
  const firstUs = nowUs();
  const worker = async (): Promise<void> => {
    while (next < tokens.length) {
      const i = next++;
      out[i] = await connect(dial, urls[i]!, tokens[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { sockets: out, urls, firstUs, lastUs: nowUs() };
}

/** Reads `<phase>:<digits>` after MARK at `at` without decoding the frame. */
function parseMark(data: Buffer, at: number): { phase: Phase; sentUs: number } | null {
  let i = at + MARK.length;
  const p = data[i];
  const phase: Phase | null = p === 0x77 ? 'w' : p === 0x6d ? 'm' : p === 0x6c ? 'l' : null; // 'w' | 'm' | 'l'
  if (!phase || data[i + 1] !== 0x3a) return null; // ':'
  i += 2;
  let n = 0;
  for (let c = data[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = data[++i]) n = n * 10 + (c - 0x30);
  return { phase, sentUs: n };
}

class PhaseRecorder {
  readonly samples: Float64Array;
  n = 0;
  firstUs = 0;
  lastUs = 0;
  cpu0: NodeJS.CpuUsage | null = null;
  elu0: ReturnType<typeof performance.eventLoopUtilization> | null = null;
  reported = false;
  otherFrames = 0;
  constructor(readonly phase: Phase, readonly expected: number) {
    this.samples = new Float64Array(expected);
  }
  start(): void {
    this.cpu0 = process.cpuUsage();
    this.elu0 = performance.eventLoopUtilization();
  }
  report(complete: boolean, closes: Record<string, number>): ReceiverReport {
    this.reported = true;
    const cpu = process.cpuUsage(this.cpu0 ?? undefined);
    const elu = performance.eventLoopUtilization(this.elu0 ?? undefined);
    return {
      phase: this.phase,
      complete,
      delivered: this.n,
      expected: this.expected,
      samples: this.samples.slice(0, this.n),
      firstUs: this.firstUs,
      lastUs: this.lastUs,
      cpuUs: cpu.user + cpu.system,
      elu: elu.utilization,
      closes: { ...closes },
      otherFrames: this.otherFrames,
    };
  }
}

async function runReceivers(cfg: Extract<ToClient, { cmd: 'receivers' }>): Promise<void> {
  const t0 = Date.now();
  const { sockets } = await connectAll(cfg.dial, cfg.tokens, cfg.concurrency);
  const n = sockets.length;
  const phases: Record<Phase, PhaseRecorder> = {
    w: new PhaseRecorder('w', n * cfg.perReceiver.w),
    m: new PhaseRecorder('m', n * cfg.perReceiver.m),
    l: new PhaseRecorder('l', n * cfg.perReceiver.l),
  };
  /** The phase whose first delivery has arrived and last has not: other frames count against it. */
  let running: PhaseRecorder | null = null;
  const closes: Record<string, number> = {};
  const onFrame = (data: RawData): void => {
    const now = nowUs();
    const buf = data as Buffer; // text frames arrive as one Buffer (binaryType 'nodebuffer')
    // A frame may carry several messages (Centrifugo batches pushes, one a line).
    let at = buf.indexOf(MARK);
    if (at < 0) {
      if (running) running.otherFrames += 1; // read receipts, presence, member events...
      return;
    }
    for (; at >= 0; at = buf.indexOf(MARK, at + MARK.length)) {
      const m = parseMark(buf, at);
      if (!m) continue;
      const rec = phases[m.phase];
      if (rec.n >= rec.expected) continue;
      if (rec.n === 0) {
        rec.firstUs = now;
        rec.start();
        running = rec;
      }
      rec.samples[rec.n++] = now - m.sentUs;
      rec.lastUs = now;
      if (rec.n === rec.expected) {
        if (running === rec) running = null;
        if (!rec.reported) reply({ type: 'received', report: rec.report(true, closes) });
      }
    }
  };
  for (const ws of sockets) {
    ws.on('message', onFrame);
    ws.on('close', (code) => (closes[code] = (closes[code] ?? 0) + 1));
  }
  process.on('message', (msg: ToClient) => {
    if (msg.cmd === 'report') {
      const rec = phases[msg.phase];
      if (!rec.reported) reply({ type: 'received', report: rec.report(false, closes) });
    } else if (msg.cmd === 'close') {
      for (const ws of sockets) ws.terminate();
      process.disconnect();
    }
  });
  reply({ type: 'connected', sockets: n, ms: Date.now() - t0, firstUs: 0, lastUs: 0 });
}

/** Request numbers carry the phase (Centrifugo's ids are numbers; 1 and 2 are the handshake). */
const PHASE_BASE: Record<Phase, number> = { w: 0, m: 10_000_000, l: 20_000_000 };

async function runSender(cfg: Extract<ToClient, { cmd: 'sender' }>): Promise<void> {
  const t0 = Date.now();
  const wire = WIRES[cfg.dial.proto];
  const ws = await connect(cfg.dial, cfg.dial.wsUrls[0]!, cfg.token);
  let current: { phase: Phase; count: number; window: number; sentAt: Float64Array; lat: Float64Array } | null = null;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | undefined;
  let firstSendUs = 0;
  let lastAckUs = 0;

  const sendOne = (): void => {
    if (!current) return;
    const i = sent++;
    const t = nowUs();
    if (i === 0) firstSendUs = t;
    current.sentAt[i] = t;
    ws.send(wire.send(PHASE_BASE[current.phase] + i + 10, cfg.dial.room, `${cfg.tag}-${current.phase}-${i}`, `${TEXT_PREFIX}${current.phase}:${t}`));
  };
  const finish = (): void => {
    if (!current) return;
    const c = current;
    current = null;
    reply({
      type: 'sent',
      report: {
        phase: c.phase,
        acked,
        errors,
        ...(firstError !== undefined ? { firstError } : {}),
        latency: latencyStats(c.lat.subarray(0, acked)),
        firstSendUs,
        lastAckUs,
      },
    });
  };

  ws.on('message', (data: RawData) => {
    if (!current) return;
    for (const r of wire.replies(data as Buffer)) {
      if (!current) return;
      const i = r.n - 10 - PHASE_BASE[current.phase];
      if (i < 0 || i >= current.count) continue;
      const t = nowUs();
      if (r.error === undefined) {
        current.lat[acked++] = t - current.sentAt[i]!;
        lastAckUs = t;
      } else {
        errors += 1;
        firstError ??= r.error;
      }
      if (sent < current.count) sendOne();
      else if (acked + errors >= current.count) finish();
    }
  });
  ws.on('close', (code) => {
    if (current) {
      firstError ??= `socket closed (${code})`;
      finish();
    }
  });

  process.on('message', (msg: ToClient) => {
    if (msg.cmd === 'send') {
      current = { phase: msg.phase, count: msg.count, window: msg.window, sentAt: new Float64Array(msg.count), lat: new Float64Array(msg.count) };
      sent = acked = errors = 0;
      firstError = undefined;
      for (let k = 0; k < Math.min(msg.window, msg.count); k++) sendOne();
    } else if (msg.cmd === 'close') {
      ws.terminate();
      process.disconnect();
    }
  });
  reply({ type: 'connected', sockets: 1, ms: Date.now() - t0, firstUs: 0, lastUs: 0 });
}

/**
 * The connect phase: opens one authenticated socket per token and holds them idle (the
 * parent reads the servers' RSS meanwhile). Then, on `storm`, every socket of the gateway
 * about to be killed reconnects to the other one as soon as it is dropped and resumes
 * (Parley's `resume` frame, with the room's last seq for the tokens that are members);
 * the report counts the sockets that got `resumed` back.
 */
async function runConns(cfg: Extract<ToClient, { cmd: 'conns' }>): Promise<void> {
  const t0 = Date.now();
  const { sockets, urls, firstUs, lastUs } = await connectAll(cfg.dial, cfg.tokens, cfg.concurrency);
  const live = new Set(sockets);
  let storm: StormReport | null = null;
  let stormDone: (() => void) | null = null;
  let firstCloseUs = 0;
  let lastResumedUs = 0;

  const resumeOne = async (i: number, plan: StormPlan): Promise<void> => {
    try {
      const ws = await connect(cfg.dial, plan.aliveUrl, cfg.tokens[i]!);
      live.add(ws);
      sockets[i] = ws;
      const conversations = i < plan.members ? { [cfg.dial.room]: plan.lastSeq } : {};
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no resumed within the deadline')), Math.max(1_000, plan.deadlineMs - Date.now()));
        ws.on('message', (d: RawData) => {
          const head = (d as Buffer).subarray(0, 40).toString();
          if (head.startsWith('{"type":"resumed"')) {
            clearTimeout(timer);
            resolve();
          } else if (head.startsWith('{"type":"error"') && head.includes('"id":"storm"')) {
            clearTimeout(timer);
            reject(new Error((d as Buffer).toString()));
          }
        });
        ws.send(JSON.stringify({ type: 'resume', id: 'storm', conversations }));
      });
      storm!.resumed += 1;
      lastResumedUs = nowUs();
    } catch (err) {
      storm!.failed += 1;
      storm!.firstError ??= err instanceof Error ? err.message : String(err);
    }
    if (storm!.resumed + storm!.failed >= storm!.dropped) stormDone?.();
  };

  process.on('message', (msg: ToClient) => {
    if (msg.cmd === 'storm') {
      const plan = msg.plan;
      const mine = sockets.map((_, i) => i).filter((i) => urls[i] === plan.deadUrl);
      storm = { dropped: mine.length, resumed: 0, failed: 0, spanUs: 0 };
      const done = new Promise<void>((resolve) => {
        stormDone = resolve;
        if (mine.length === 0) resolve();
      });
      for (const i of mine) {
        sockets[i]!.once('close', () => {
          live.delete(sockets[i]!);
          if (!firstCloseUs) firstCloseUs = nowUs();
          void resumeOne(i, plan);
        });
      }
      const deadline = setTimeout(() => stormDone?.(), Math.max(1_000, plan.deadlineMs - Date.now()));
      reply({ type: 'armed' });
      void done.then(() => {
        clearTimeout(deadline);
        storm!.spanUs = lastResumedUs && firstCloseUs ? lastResumedUs - firstCloseUs : 0;
        storm!.failed = storm!.dropped - storm!.resumed; // those still waiting at the deadline count as failed
        reply({ type: 'storm', report: { ...storm! } });
      });
    } else if (msg.cmd === 'close') {
      for (const ws of live) ws.terminate();
      process.disconnect();
    }
  });
  reply({ type: 'connected', sockets: sockets.length, ms: Date.now() - t0, firstUs, lastUs });
}

// A child with no parent has nothing to do: exit when the IPC channel goes away.
process.on('disconnect', () => process.exit(0));
process.once('message', (msg: ToClient) => {
  const run =
    msg.cmd === 'receivers' ? runReceivers(msg) : msg.cmd === 'sender' ? runSender(msg) : msg.cmd === 'conns' ? runConns(msg) : Promise.reject(new Error(`unexpected first command ${msg.cmd}`));
  run.catch((err: unknown) => {
    reply({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
});
