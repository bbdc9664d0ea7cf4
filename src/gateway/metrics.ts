import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One Prometheus registry per Parley instance (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request duration by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly wsConnections = new Gauge({ name: 'parley_ws_connections', help: 'Open WebSocket connections.', registers: [this.registry] });
  readonly wsFramesIn = new Counter({ name: 'parley_ws_frames_in_total', help: 'WebSocket frames received by type.', labelNames: ['type'] as const, registers: [this.registry] });
  readonly wsEventsOut = new Counter({ name: 'parley_ws_events_out_total', help: 'Events written to WebSocket connections.', registers: [this.registry] });
  readonly wsSlowClosed = new Counter({ name: 'parley_ws_slow_consumers_closed_total', help: 'Connections closed because their send buffer overflowed.', registers: [this.registry] });
  readonly messagesSent = new Counter({ name: 'parley_messages_sent_total', help: 'Messages stored.', registers: [this.registry] });
  readonly jobsProcessed = new Counter({ name: 'parley_jobs_processed_total', help: 'Jobs handled by kind and outcome.', labelNames: ['kind', 'outcome'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }
}
