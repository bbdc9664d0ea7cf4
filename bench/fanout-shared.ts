/**
 * What bench/fanout.ts (the parent) and bench/fanout-client.ts (its child processes) share:
 * the IPC messages, the clock, the marker in the message text, and percentiles. No side
 * effects: both sides import it.
 */

/** Warm-up, measured (pipelined), latency probe (one in flight). */
export type Phase = 'w' | 'm' | 'l';
export const PHASES: readonly Phase[] = ['w', 'm', 'l'];

export interface LatencyStats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ReceiverReport {
  phase: Phase;
  complete: boolean;
  /** Deliveries received in this phase (all receivers of the process). */
  delivered: number;
  expected: number;
  /** Delivery latency of each delivery, µs (merged by the parent). */
  samples: Float64Array;
  firstUs: number;
  lastUs: number;
  /** This process during the phase: CPU time (µs) and event-loop utilisation (0..1). */
  cpuUs: number;
  elu: number;
  /** Sockets the server closed, by close code. */
  closes: Record<string, number>;
  /** Frames without the phase's marker (other events) received while the phase ran. */
  otherFrames: number;
}

export interface SenderReport {
  phase: Phase;
  acked: number;
  errors: number;
  firstError?: string;
  /** send→ack latency, µs. */
  latency: LatencyStats;
  firstSendUs: number;
  lastAckUs: number;
}

/**
 * The wire protocol a server speaks: Parley's JSON frames (and the toy peers'), Centrifugo's
 * JSON protocol (connect + subscribe + publish), or Socket.IO's (Engine.IO v4 packets over a
 * WebSocket). The client code is the same for all; only the framing differs.
 */
export type Proto = 'parley' | 'centrifugo' | 'socketio';

/** Where a socket connects: the server's WebSocket URLs (sockets are spread over them round-robin). */
export interface Dial {
  proto: Proto;
  wsUrls: string[];
  /** The room: Parley's conversation id, Centrifugo's channel, Socket.IO's room. */
  room: string;
}

/** Connect phase: after kill -9 of the gateway at `deadUrl`, its sockets reconnect to `aliveUrl` and resume. */
export interface StormPlan {
  deadUrl: string;
  aliveUrl: string;
  /** The room the first `members` tokens belong to, and the last seq in it, for the `resume` frame. */
  members: number;
  lastSeq: number;
  deadlineMs: number;
}

export interface StormReport {
  /** Sockets of the dead gateway (closed by the kill). */
  dropped: number;
  /** Of those, reconnected to the other gateway and answered `resumed`. */
  resumed: number;
  failed: number;
  firstError?: string;
  /** Time from the first close to the last `resumed`, µs. */
  spanUs: number;
}

export type ToClient =
  | { cmd: 'receivers'; dial: Dial; tokens: string[]; perReceiver: Record<Phase, number>; concurrency: number }
  | { cmd: 'sender'; dial: Dial; token: string; tag: string }
  | { cmd: 'send'; phase: Phase; count: number; window: number }
  | { cmd: 'report'; phase: Phase }
  | { cmd: 'conns'; dial: Dial; tokens: string[]; concurrency: number }
  | { cmd: 'storm'; plan: StormPlan }
  | { cmd: 'close' };

export type FromClient =
  | { type: 'connected'; sockets: number; ms: number; firstUs: number; lastUs: number }
  | { type: 'received'; report: ReceiverReport }
  | { type: 'sent'; report: SenderReport }
  | { type: 'armed' }
  | { type: 'storm'; report: StormReport }
  | { type: 'fatal'; message: string };

/** Text of a benchmark message: `fanout:<phase>:<send time, µs>`. */
export const TEXT_PREFIX = 'fanout:';

/**
 * Microseconds on process.hrtime: CLOCK_MONOTONIC, one clock for every process of the
 * machine, so a receiver can subtract the sender's timestamp.
 */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export function latencyStats(samples: Float64Array): LatencyStats {
  const s = Float64Array.from(samples).sort();
  const at = (q: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN);
  return { count: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length ? s[s.length - 1]! : NaN };
}
