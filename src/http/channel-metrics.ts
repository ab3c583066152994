// Prometheus metrics fed by Chronicle's diagnostics channels: every command and query the process dispatches (HTTP or
// in-process), appends and events written, group-commit sizes, projection batches and read-your-writes waits.
// Subscribed only while a server is open, so a process without one pays nothing for them.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type AppendGroupSample,
  type AppendTrace,
  type CommandTrace,
  type ConsistencyWaitSample,
  outcomeOf,
  type ProjectionBatchTrace,
  type QueryTrace,
  TELEMETRY_CHANNELS,
} from 'chronicle-es';
import type { Histogram, Registry } from 'prom-client';

type Prom = typeof import('prom-client');

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Subscribes the metrics for one more server; the returned function unsubscribes that server (the last one stops). */
export type ChannelMetrics = { listen(): () => void };

/** Registers the channel-fed metrics on `registry`. Label values are registered names, backends and outcome codes. */
export function createChannelMetrics(prom: Prom, registry: Registry): ChannelMetrics {
  const { Counter, Histogram } = prom;
  const registers = [registry];
  const dispatchLatency = new Histogram({
    name: 'chronicle_dispatch_duration_seconds',
    help: 'Commands and queries dispatched in this process (any caller), by message and outcome (ok or the error code).',
    labelNames: ['kind', 'message', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const appends = new Counter({
    name: 'chronicle_appends_total',
    help: 'Append calls that reached the event store, by backend and outcome.',
    labelNames: ['backend', 'outcome'],
    registers,
  });
  const eventsWritten = new Counter({
    name: 'chronicle_events_written_total',
    help: 'Events written by successful appends, by backend.',
    labelNames: ['backend'],
    registers,
  });
  const groupSize = new Histogram({
    name: 'chronicle_append_group_size',
    help: 'Appends sharing one group-commit transaction, by backend.',
    labelNames: ['backend'],
    buckets: SIZE_BUCKETS,
    registers,
  });
  const batchLatency = new Histogram({
    name: 'chronicle_projection_batch_duration_seconds',
    help: 'Projection batches applied with their checkpoint, by projection and outcome.',
    labelNames: ['projection', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const batchEvents = new Counter({
    name: 'chronicle_projection_events_applied_total',
    help: 'Events applied by projection batches that committed whole, by projection.',
    labelNames: ['projection'],
    registers,
  });
  const waits = new Histogram({
    name: 'chronicle_consistency_wait_seconds',
    help: 'Read-your-writes (minPosition) waits of queries, by outcome: reached, timeout or error.',
    labelNames: ['outcome'],
    buckets: LATENCY_BUCKETS,
    registers,
  });

  const dispatchSeconds = childrenOf(dispatchLatency);
  const batchSeconds = childrenOf(batchLatency);

  // Start times by traced context (tracing:…:start fires inside the traced call, asyncEnd once it settled).
  const started = new WeakMap<object, number>();
  const onStart = (message: unknown) => {
    started.set(message as object, performance.now());
  };
  const elapsed = (message: object) => {
    const t = started.get(message);
    return t === undefined ? undefined : (performance.now() - t) / 1000;
  };
  const outcome = (message: { error?: unknown }) => (message.error === undefined ? 'ok' : outcomeOf(message.error));

  const handlers: Array<[string, (message: unknown) => void]> = [
    [`tracing:${TELEMETRY_CHANNELS.command}:start`, onStart],
    [`tracing:${TELEMETRY_CHANNELS.query}:start`, onStart],
    [`tracing:${TELEMETRY_CHANNELS.projectionBatch}:start`, onStart],
    [
      `tracing:${TELEMETRY_CHANNELS.command}:asyncEnd`,
      (m) => {
        const c = m as CommandTrace;
        const s = elapsed(c);
        if (s !== undefined) dispatchSeconds('command', c.command, outcome(c)).observe(s);
      },
    ],
    [
      `tracing:${TELEMETRY_CHANNELS.query}:asyncEnd`,
      (m) => {
        const q = m as QueryTrace;
        const s = elapsed(q);
        if (s !== undefined) dispatchSeconds('query', q.query, outcome(q)).observe(s);
      },
    ],
    [
      `tracing:${TELEMETRY_CHANNELS.append}:asyncEnd`,
      (m) => {
        const a = m as AppendTrace;
        const result = outcome(a);
        appends.inc({ backend: a.backend, outcome: result });
        if (result === 'ok') eventsWritten.inc({ backend: a.backend }, a.events);
      },
    ],
    [
      `tracing:${TELEMETRY_CHANNELS.projectionBatch}:asyncEnd`,
      (m) => {
        const b = m as ProjectionBatchTrace;
        const failed = b.error !== undefined || b.result?.failure !== undefined;
        const s = elapsed(b);
        const result = b.error !== undefined ? outcomeOf(b.error) : failed ? 'PROJECTION_FAILED' : 'ok';
        if (s !== undefined) batchSeconds(b.projection, result).observe(s);
        if (!failed && b.events > 0) batchEvents.inc({ projection: b.projection }, b.events);
      },
    ],
    [
      TELEMETRY_CHANNELS.appendGroup,
      (m) => {
        const g = m as AppendGroupSample;
        groupSize.observe({ backend: g.backend }, g.appends);
      },
    ],
    [
      TELEMETRY_CHANNELS.consistencyWait,
      (m) => {
        const w = m as ConsistencyWaitSample;
        waits.observe({ outcome: w.outcome }, w.seconds);
      },
    ],
  ];

  let listeners = 0;
  return {
    listen() {
      if (listeners++ === 0) for (const [name, handler] of handlers) subscribe(name, handler);
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        if (--listeners === 0) for (const [name, handler] of handlers) unsubscribe(name, handler);
      };
    },
  };
}

// A histogram's children by label values, kept: prom-client's labels() validates and hashes on every call.
function childrenOf(histogram: Histogram<string>): (...values: string[]) => { observe(value: number): void } {
  const children = new Map<string, { observe(value: number): void }>();
  return (...values) => {
    const key = values.join('\u0000');
    let found = children.get(key);
    if (!found) {
      found = histogram.labels(...values);
      children.set(key, found);
    }
    return found;
  };
}
