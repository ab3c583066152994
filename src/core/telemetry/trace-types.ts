// What Chronicle reports about its own work on node:diagnostics_channel: the channel names and the message each
// carries, for subscribers (the OpenTelemetry bridge, the Prometheus metrics, or an application's own).
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
  /** True when the client closed the connection before any response was sent. */
  aborted?: boolean;
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
