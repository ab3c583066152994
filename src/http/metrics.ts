// Prometheus metrics of one server, in its own registry so several servers in a process never clash.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type HttpMetricsOptions = {
  /** Registry to fill; a fresh one by default. */
  registry?: Registry;
  /** Process metrics (CPU, memory, event-loop lag). Default true. */
  defaultMetrics?: boolean;
  /** Adds application metrics to the registry. */
  extend?: (registry: Registry) => void;
};

/** The metrics the HTTP layer records. */
export type HttpMetrics = {
  readonly registry: Registry;
  request(method: string, route: string, status: number, seconds: number): void;
  dispatch(kind: 'command' | 'query', message: string, outcome: string): void;
  sseClients(delta: number): void;
};

/** Creates the HTTP metrics in a per-server registry. */
export function createHttpMetrics(options: HttpMetricsOptions = {}): HttpMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'chronicle_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers,
  });
  const latency = new Histogram({
    name: 'chronicle_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const dispatches = new Counter({
    name: 'chronicle_dispatch_total',
    help: 'Commands and queries dispatched over HTTP, by message and outcome (ok or the error code).',
    labelNames: ['kind', 'message', 'outcome'],
    registers,
  });
  const clients = new Gauge({ name: 'chronicle_sse_clients', help: 'Open server-sent-event streams.', registers });
  options.extend?.(registry);

  // prom-client hashes the labels on every call; label sets are few, so keep the children.
  const requestChildren = new Map<string, { inc: () => void; observe: (s: number) => void }>();
  const dispatchChildren = new Map<string, { inc: () => void }>();

  return {
    registry,
    request(method, route, status, seconds) {
      const key = `${method} ${route} ${status}`;
      let child = requestChildren.get(key);
      if (!child) {
        const counter = requests.labels(method, route, String(status));
        const histogram = latency.labels(method, route, String(status));
        child = { inc: () => counter.inc(), observe: (s) => histogram.observe(s) };
        requestChildren.set(key, child);
      }
      child.inc();
      child.observe(seconds);
    },
    dispatch(kind, message, outcome) {
      const key = `${kind} ${message} ${outcome}`;
      let child = dispatchChildren.get(key);
      if (!child) {
        const counter = dispatches.labels(kind, message, outcome);
        child = { inc: () => counter.inc() };
        dispatchChildren.set(key, child);
      }
      child.inc();
    },
    sseClients(delta) {
      clients.inc(delta);
    },
  };
}

/** The metrics outcome of a failed dispatch: its Chronicle code, or `error` (keeps label values few). */
export function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'error';
}
