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

export type ToClient =
  | { cmd: 'receivers'; wsUrl: string; tokens: string[]; perReceiver: Record<Phase, number>; concurrency: number }
  | { cmd: 'sender'; wsUrl: string; token: string; conversationId: string; tag: string }
  | { cmd: 'send'; phase: Phase; count: number; window: number }
  | { cmd: 'report'; phase: Phase }
  | { cmd: 'close' };

export type FromClient =
  | { type: 'connected'; sockets: number; ms: number }
  | { type: 'received'; report: ReceiverReport }
  | { type: 'sent'; report: SenderReport }
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
