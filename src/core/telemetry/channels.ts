// Chronicle's diagnostics channels. A channel without subscribers costs one property read, so an application that
// observes nothing pays nothing, and no tracing library is imported: the OpenTelemetry bridge and the Prometheus metrics
// are subscribers like any other (fastify and undici do the same). Channels are global by name, so two copies of the
// package in one process (source and dist) still report to one place. Internal: the public entry exports only the names
// and message types (trace-types.ts) and the report functions (report.ts), so its declarations need no Node types.
import { channel, type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import {
  type AppendTrace,
  type CommandTrace,
  type HttpRequestTrace,
  type ProjectionBatchTrace,
  type QueryTrace,
  TELEMETRY_CHANNELS,
} from './trace-types.js';

export const commandChannel: TracingChannel<unknown, CommandTrace> = tracingChannel(TELEMETRY_CHANNELS.command);
export const queryChannel: TracingChannel<unknown, QueryTrace> = tracingChannel(TELEMETRY_CHANNELS.query);
export const appendChannel: TracingChannel<unknown, AppendTrace> = tracingChannel(TELEMETRY_CHANNELS.append);
export const projectionBatchChannel: TracingChannel<unknown, ProjectionBatchTrace> = tracingChannel(
  TELEMETRY_CHANNELS.projectionBatch,
);
export const httpRequestChannel: TracingChannel<unknown, HttpRequestTrace> = tracingChannel(TELEMETRY_CHANNELS.httpRequest);
export const appendGroupChannel = channel(TELEMETRY_CHANNELS.appendGroup);
export const consistencyWaitChannel = channel(TELEMETRY_CHANNELS.consistencyWait);

/**
 * Runs `fn` as one traced operation on `traces` when anything listens (the context is built only then), else just
 * runs it. `fn` gets the context, so it can read what a tracer put there (e.g. its span's `traceparent`).
 */
export function traced<C extends object, T>(
  traces: TracingChannel<unknown, C>,
  context: () => C,
  fn: (context: C | undefined) => Promise<T>,
): Promise<T> {
  if (!traces.hasSubscribers) return fn(undefined);
  const ctx = context();
  // Async, so a synchronous throw (a plain middleware's) still ends the trace through asyncEnd like a rejection.
  return traces.tracePromise(async () => fn(ctx), ctx);
}
