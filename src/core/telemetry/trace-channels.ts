// What Chronicle reports about its own work, published on node:diagnostics_channel. A channel without subscribers
// costs one property read, so an application that observes nothing pays nothing, and no tracing library is imported:
// the OpenTelemetry bridge and the Prometheus metrics are subscribers like any other (fastify and undici do the same).
// Channels are global by name, so two copies of the package in one process (source and dist) still report to one place.
import { channel, type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import type { CommandResult } from '../command-handler.js';
import type { AppendResult } from '../event-store.js';

/** One command dispatch. `traceparent` arrives as the caller's W3C trace context; a tracer replaces it with its span's. */
export type CommandTrace = {
  readonly command: string;
  readonly correlationId: string;
  readonly requestId?: string;
  /** The trace context the command's events carry in their metadata (the writer, for a projection's links). */
  traceparent?: string;
  result?: CommandResult;
  error?: unknown;
};

/** One query run. */
export type QueryTrace = {
  readonly query: string;
  readonly correlationId: string;
  readonly requestId?: string;
  readonly minPosition?: number;
  traceparent?: string;
  result?: unknown;
  error?: unknown;
};

/** One append call (any of the three forms), as the store's append path sees it. */
export type AppendTrace = {
  /** `sqlite`, `postgres`, `memory`… */
  readonly backend: string;
  /** The first stream written (the one a command's status names). */
  readonly streamId: string;
  readonly streams: number;
  readonly events: number;
  result?: AppendResult[];
  error?: unknown;
};

/** One projection batch: events applied to the read store with the checkpoint moving from `after` to `checkpoint`. */
export type ProjectionBatchTrace = {
  readonly projection: string;
  readonly generation: number;
  readonly events: number;
  readonly after: number;
  readonly checkpoint: number;
  /** The distinct trace contexts of the spans that wrote the batch's events (from their metadata), at most 128. */
  readonly writers: readonly string[];
  result?: { committed: number; failure?: unknown };
  error?: unknown;
};

/** One HTTP request, from its first hook to its response: published by chronicle/http, start then asyncEnd. */
export type HttpRequestTrace = {
  readonly method: string;
  /** The route pattern (e.g. `/commands/:name`), never the raw URL: bounded, and free of query strings. */
  readonly route: string;
  /** The client's `traceparent` header at start; a tracer replaces it with its server span's. */
  traceparent?: string;
  statusCode?: number;
};

/** One group-commit transaction: how many appends shared it. */
export type AppendGroupSample = { readonly backend: string; readonly appends: number };

/** One bounded read-your-writes wait of a query. */
export type ConsistencyWaitSample = {
  readonly outcome: 'reached' | 'timeout' | 'error';
  readonly seconds: number;
};

/** The channel names, for subscribers (`tracing:<name>:start` and so on for the traced ones). */
export const TELEMETRY_CHANNELS = {
  command: 'chronicle:command',
  query: 'chronicle:query',
  append: 'chronicle:append',
  projectionBatch: 'chronicle:projection.batch',
  httpRequest: 'chronicle:http.request',
  appendGroup: 'chronicle:append.group',
  consistencyWait: 'chronicle:query.wait',
} as const;

export const commandChannel: TracingChannel<unknown, CommandTrace> = tracingChannel(TELEMETRY_CHANNELS.command);
export const queryChannel: TracingChannel<unknown, QueryTrace> = tracingChannel(TELEMETRY_CHANNELS.query);
export const appendChannel: TracingChannel<unknown, AppendTrace> = tracingChannel(TELEMETRY_CHANNELS.append);
export const projectionBatchChannel: TracingChannel<unknown, ProjectionBatchTrace> = tracingChannel(
  TELEMETRY_CHANNELS.projectionBatch,
);
export const httpRequestChannel: TracingChannel<unknown, HttpRequestTrace> = tracingChannel(TELEMETRY_CHANNELS.httpRequest);
const appendGroupChannel = channel(TELEMETRY_CHANNELS.appendGroup);
const consistencyWaitChannel = channel(TELEMETRY_CHANNELS.consistencyWait);

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
  return traces.tracePromise(() => fn(ctx), ctx);
}

/** Reports one group-commit transaction of `appends` appends (a store adapter calls it after each commit). */
export function reportAppendGroup(backend: string, appends: number): void {
  if (appendGroupChannel.hasSubscribers) appendGroupChannel.publish({ backend, appends } satisfies AppendGroupSample);
}

/** Reports how one read-your-writes wait ended. */
export function reportConsistencyWait(outcome: ConsistencyWaitSample['outcome'], seconds: number): void {
  if (consistencyWaitChannel.hasSubscribers) consistencyWaitChannel.publish({ outcome, seconds } satisfies ConsistencyWaitSample);
}
