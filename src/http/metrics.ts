// Prometheus metrics of one server, in its own registry so several servers in a process never clash.
// prom-client is an optional peer: it is imported when a server is built, never by importing chronicle-es/http.
import { ChronicleError } from 'chronicle-es';
import type { Counter, Registry } from 'prom-client';
import { createChannelMetrics } from './channel-metrics.js';

/**
 * The part of a prom-client `Registry` Chronicle uses; a prom-client `Registry` is one. Our own type, so these
 * declarations compile without prom-client installed.
 */
export type MetricsRegistry = {
  readonly contentType: string;
  metrics(): Promise<string>;
  /** Adds a prom-client metric (e.g. `new Counter({ name, help, registers: [] })`). */
  registerMetric(metric: unknown): void;
};

export type HttpMetricsOptions = {
  /** A prom-client `Registry` to fill; a fresh one by default. */
  registry?: MetricsRegistry;
  /** Process metrics (CPU, memory, event-loop lag). Default true. */
  defaultMetrics?: boolean;
  /** Adds application metrics to the registry (for prom-client's typed `registers`, pass your own `registry`). */
  extend?: (registry: MetricsRegistry) => void | Promise<void>;
};

/** The metrics the HTTP layer records. */
export type HttpMetrics = {
  /** Undefined when prom-client is not installed: nothing is recorded, and `/metrics` answers 501. */
  readonly registry: MetricsRegistry | undefined;
  request(method: string, route: string, status: number, seconds: number): void;
  dispatch(kind: 'command' | 'query', message: string, outcome: string): void;
  sseClients(delta: number): void;
  /**
   * Starts recording what Chronicle reports on its diagnostics channels (every dispatch in the process, appends,
   * group commits, projection batches, consistency waits) for one server; call the result when it closes.
   */
  listen(): () => void;
};

/** What a server without prom-client records: nothing. */
const NO_METRICS: HttpMetrics = { registry: undefined, request() {}, dispatch() {}, sseClients() {}, listen: () => () => {} };

// Undefined when prom-client is not installed; any other failure to load it (a broken install) is rethrown.
async function importPromClient(): Promise<typeof import('prom-client') | undefined> {
  try {
    return await import('prom-client');
  } catch (err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes("'prom-client'")) return undefined;
    throw err;
  }
}

/**
 * Creates the HTTP metrics in a per-server registry, importing prom-client. Without prom-client they record
 * nothing and `registry` is undefined, unless the options ask for metrics explicitly.
 * @throws INVALID_ARGUMENT when prom-client is not installed but `registry` or `extend` is given
 */
export async function createHttpMetrics(options: HttpMetricsOptions = {}): Promise<HttpMetrics> {
  const prom = await importPromClient();
  if (!prom) {
    if (options.registry || options.extend) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        'metrics were configured but prom-client is not installed: npm install prom-client',
      );
    }
    return NO_METRICS;
  }
  const { Counter, collectDefaultMetrics, Gauge, Histogram } = prom;
  // Any registry we are given is a prom-client Registry (MetricsRegistry is its public face).
  const registry = (options.registry ?? new prom.Registry()) as Registry;
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  // Counts are kept in plain numbers per label set and added to the counters when the registry is read (prom-client
  // calls `collect` before every read): a request then costs an increment, not a label validation and hash per
  // counter. The histogram's child still hashes per observation (prom-client has no bulk observe).
  const pendingRequests: Pending[] = [];
  const pendingDispatches: Pending[] = [];
  const requests = new Counter({
    name: 'chronicle_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers,
    collect() {
      flush(this, pendingRequests);
    },
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
    collect() {
      flush(this, pendingDispatches);
    },
  });
  const clients = new Gauge({ name: 'chronicle_sse_clients', help: 'Open server-sent-event streams.', registers });
  const channels = createChannelMetrics(prom, registry);
  await options.extend?.(registry);

  // Label sets are few: keep one entry per set, found by a string key.
  const requestChildren = new Map<string, { count: Pending; observe: (s: number) => void }>();
  const dispatchChildren = new Map<string, Pending>();

  return {
    registry,
    request(method, route, status, seconds) {
      const key = `${method} ${route} ${status}`;
      let child = requestChildren.get(key);
      if (!child) {
        const labels = { method, route, status: String(status) };
        const histogram = latency.labels(labels);
        // Zero-valued at once, so the series shows up (at 0) even before the first flush.
        requests.inc(labels, 0);
        child = { count: { labels, count: 0 }, observe: (s) => histogram.observe(s) };
        pendingRequests.push(child.count);
        requestChildren.set(key, child);
      }
      child.count.count++;
      child.observe(seconds);
    },
    dispatch(kind, message, outcome) {
      const key = `${kind} ${message} ${outcome}`;
      let pending = dispatchChildren.get(key);
      if (!pending) {
        const labels = { kind, message, outcome };
        dispatches.inc(labels, 0);
        pending = { labels, count: 0 };
        pendingDispatches.push(pending);
        dispatchChildren.set(key, pending);
      }
      pending.count++;
    },
    sseClients(delta) {
      clients.inc(delta);
    },
    listen: channels.listen,
  };
}

type Pending = { labels: Record<string, string>; count: number };

function flush(counter: Counter<string>, pending: readonly Pending[]): void {
  for (const entry of pending) {
    if (entry.count === 0) continue;
    counter.inc(entry.labels, entry.count);
    entry.count = 0;
  }
}

/** The metrics outcome of a failed dispatch: its Chronicle code, or `error` (keeps label values few). */
export { outcomeOf } from 'chronicle-es';
