/**
 * The load generator of bench/fanout.ts, run in a child process (forked by the parent) so
 * that it never shares the server's event loop. One process plays one role:
 *
 * - `receivers`: N WebSockets that count the `message.new` frames of the benchmark and
 *   measure delivery latency (receive time − the send time the sender put in the text).
 * - `sender`: one WebSocket that sends `message.send` frames, pipelined with a window of
 *   frames in flight, and measures send→ack latency.
 *
 * Times are `process.hrtime` (CLOCK_MONOTONIC: one clock for every process of the machine),
 * in microseconds. The same code drives Parley and the peer servers.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { TEXT_PREFIX, latencyStats, nowUs, type FromClient, type Phase, type ReceiverReport, type ToClient } from './fanout-shared.js';

const MARK = Buffer.from(`"text":"${TEXT_PREFIX}`);

function reply(msg: FromClient): void {
  process.send?.(msg);
}

function connect(wsUrl: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error('no ready frame within 30s')), 30_000);
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: ${res.statusCode}`)));
    // The first frame is `ready` (Parley sends it once the socket is subscribed; the peers at once).
    ws.once('message', () => {
      clearTimeout(timer);
      ws.off('error', fail);
      ws.on('error', () => {});
      resolve(ws);
    });
  });
}

async function connectAll(wsUrl: string, tokens: readonly string[], concurrency: number): Promise<WebSocket[]> {
  const out: WebSocket[] = new Array<WebSocket>(tokens.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tokens.length) {
      const i = next++;
      out[i] = await connect(wsUrl, tokens[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return out;
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
  const sockets = await connectAll(cfg.wsUrl, cfg.tokens, cfg.concurrency);
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
    const at = buf.indexOf(MARK);
    const m = at < 0 ? null : parseMark(buf, at);
    if (!m) {
      if (running) running.otherFrames += 1; // read receipts, presence, member events...
      return;
    }
    const rec = phases[m.phase];
    if (rec.n >= rec.expected) return;
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
  reply({ type: 'connected', sockets: n, ms: Date.now() - t0 });
}

async function runSender(cfg: Extract<ToClient, { cmd: 'sender' }>): Promise<void> {
  const t0 = Date.now();
  const ws = await connect(cfg.wsUrl, cfg.token);
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
    ws.send(
      JSON.stringify({
        type: 'message.send',
        id: `${current.phase}${i}`,
        conversationId: cfg.conversationId,
        clientMsgId: `${cfg.tag}-${current.phase}-${i}`,
        text: `${TEXT_PREFIX}${current.phase}:${t}`,
      }),
    );
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
    const buf = data as Buffer;
    // Only acks and errors carry our ids; skip everything else (our own message.new...) cheaply.
    const head = buf.subarray(0, 32).toString();
    const isAck = head.startsWith('{"type":"ack"');
    if (!isAck && !head.startsWith('{"type":"error"')) return;
    const f = JSON.parse(buf.toString()) as { id?: string; message?: string };
    if (typeof f.id !== 'string' || f.id[0] !== current.phase) return;
    const i = Number(f.id.slice(1));
    const t = nowUs();
    if (isAck) {
      current.lat[acked++] = t - current.sentAt[i]!;
      lastAckUs = t;
    } else {
      errors += 1;
      firstError ??= f.message ?? JSON.stringify(f);
    }
    if (sent < current.count) sendOne();
    else if (acked + errors >= current.count) finish();
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
  reply({ type: 'connected', sockets: 1, ms: Date.now() - t0 });
}

// A child with no parent has nothing to do: exit when the IPC channel goes away.
process.on('disconnect', () => process.exit(0));
process.once('message', (msg: ToClient) => {
  const run = msg.cmd === 'receivers' ? runReceivers(msg) : msg.cmd === 'sender' ? runSender(msg) : Promise.reject(new Error(`unexpected first command ${msg.cmd}`));
  run.catch((err: unknown) => {
    reply({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
});
