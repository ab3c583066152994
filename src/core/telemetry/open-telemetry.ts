// The OpenTelemetry bridge: subscribes to Chronicle's diagnostics channels and turns each traced operation into a span
// of the application's tracer provider. `@opentelemetry/api` is an optional peer, imported only when the application
// asks for the bridge; without it (or without the bridge) the channels have no subscribers and cost nothing.
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { TracingChannel } from 'node:diagnostics_channel';
import { ChronicleError } from '../errors.js';
import { appendChannel, commandChannel, httpRequestChannel, projectionBatchChannel, queryChannel } from './channels.js';
import type { AppendTrace, CommandTrace, HttpRequestTrace, ProjectionBatchTrace, QueryTrace } from './trace-types.js';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

type Api = typeof import('@opentelemetry/api');
type Context = import('@opentelemetry/api').Context;
type Span = import('@opentelemetry/api').Span;
type Attributes = import('@opentelemetry/api').Attributes;

export type OpenTelemetryOptions = {
  /** The tracer's name. Default `chronicle-es`. */
  tracerName?: string;
};

/** A running bridge; `close()` unsubscribes it. */
export type OpenTelemetryBridge = { close(): void };

/** The outcome label of a failure: its Chronicle code, or `error` (keeps label and attribute values few). */
export function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'error';
}

// Undefined when @opentelemetry/api is not installed; any other failure to load it (a broken install) is rethrown.
async function importApi(): Promise<Api | undefined> {
  try {
    return await import('@opentelemetry/api');
  } catch (err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes('@opentelemetry/api')) return undefined;
    throw err;
  }
}

/**
 * Emits a span for every command, query, append, projection batch and HTTP request Chronicle runs, through the tracer
 * provider the application registered with `@opentelemetry/api` (none registered: the API's no-op spans). Commands
 * record their span's `traceparent` in the metadata of the events they write, and a projection batch's span links to
 * those writers. Call it once at startup.
 * @throws INVALID_ARGUMENT when @opentelemetry/api is not installed
 */
export async function instrumentOpenTelemetry(options: OpenTelemetryOptions = {}): Promise<OpenTelemetryBridge> {
  const api = await importApi();
  if (!api) {
    throw new ChronicleError('INVALID_ARGUMENT', 'OpenTelemetry was asked for but @opentelemetry/api is not installed');
  }
  const { context, isSpanContextValid, trace, SpanKind, SpanStatusCode, TraceFlags } = api;
  const tracer = trace.getTracer(options.tracerName ?? 'chronicle-es');
  const spans = new WeakMap<object, Span>();
  const undo: Array<() => void> = [];

  // Undefined for a no-op span (no provider registered): its all-zero ids must never reach an event's metadata.
  const traceparentOf = (span: Span) => {
    const sc = span.spanContext();
    return isSpanContextValid(sc) ? formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags) : undefined;
  };
  // An explicit trace context (HTTP's server span, a client's header) is the most specific parent; else the active one.
  const parentOf = (traceparent: string | undefined): Context => {
    const active = context.active();
    const parsed = parseTraceparent(traceparent);
    if (!parsed) return active;
    return trace.setSpanContext(active, {
      traceId: parsed.traceId,
      spanId: parsed.spanId,
      traceFlags: parsed.flags & TraceFlags.SAMPLED,
      isRemote: true,
    });
  };
  const fail = (span: Span, err: unknown) => {
    span.setAttribute('chronicle.outcome', outcomeOf(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    if (err instanceof Error) span.recordException(err);
  };

  // One traced operation: `open` starts its span (inside the caller's async context, so spans below it are its
  // children), `close` adds what the result says before it ends.
  function bridge<C extends object>(
    traces: TracingChannel<unknown, C>,
    open: (ctx: C, parent: Context) => Span,
    close: (span: Span, ctx: C) => void,
    parentTraceparent: (ctx: C) => string | undefined = () => undefined,
  ): void {
    // The span becomes the active context for the traced function through the channel's store binding. Node calls
    // only `run(value, fn)` on a bound store, so OpenTelemetry's context manager (itself an AsyncLocalStorage inside)
    // serves as one: whatever the application instruments below (pg, fetch…) nests under Chronicle's span too.
    const store = {
      run: (value: Context, fn: () => unknown) => context.with(value, fn),
    } as unknown as AsyncLocalStorage<unknown>;
    const transform = (ctx: C) => {
      const parent = parentOf(parentTraceparent(ctx));
      const span = open(ctx, parent);
      spans.set(ctx, span);
      return trace.setSpan(parent, span);
    };
    const onError = (ctx: C) => {
      const span = spans.get(ctx);
      if (span?.isRecording()) fail(span, (ctx as { error?: unknown }).error);
    };
    const onEnd = (ctx: C) => {
      const span = spans.get(ctx);
      if (!span) return;
      spans.delete(ctx);
      // A no-op span (no provider) records nothing: skip building what it would drop.
      if ((ctx as { error?: unknown }).error === undefined && span.isRecording()) {
        span.setAttribute('chronicle.outcome', 'ok');
        close(span, ctx);
      }
      span.end();
    };
    traces.start.bindStore(store, transform);
    traces.error.subscribe(onError as (message: unknown) => void);
    traces.asyncEnd.subscribe(onEnd as (message: unknown) => void);
    undo.push(() => {
      traces.start.unbindStore(store);
      traces.error.unsubscribe(onError as (message: unknown) => void);
      traces.asyncEnd.unsubscribe(onEnd as (message: unknown) => void);
    });
  }

  const message = (kind: 'command' | 'query', name: string, ctx: CommandTrace | QueryTrace, parent: Context) => {
    const attributes: Attributes = {
      'chronicle.message.kind': kind,
      'chronicle.message.name': name,
      'chronicle.correlation_id': ctx.correlationId,
    };
    if (ctx.requestId !== undefined) attributes['chronicle.request_id'] = ctx.requestId;
    const span = tracer.startSpan(`${kind} ${name}`, { kind: SpanKind.INTERNAL, attributes }, parent);
    // What the handler stamps on its events: this span wrote them (a no-op span leaves the caller's).
    ctx.traceparent = traceparentOf(span) ?? ctx.traceparent;
    return span;
  };

  bridge<CommandTrace>(
    commandChannel,
    (ctx, parent) => message('command', ctx.command, ctx, parent),
    (span, { result }) => {
      if (!result) return;
      span.setAttributes({
        'chronicle.stream': result.streamId,
        'chronicle.stream.version': result.version,
        'chronicle.position': result.position,
      });
    },
    (ctx) => ctx.traceparent,
  );

  bridge<QueryTrace>(
    queryChannel,
    (ctx, parent) => {
      const span = message('query', ctx.query, ctx, parent);
      if (ctx.minPosition !== undefined) span.setAttribute('chronicle.min_position', ctx.minPosition);
      return span;
    },
    () => {},
    (ctx) => ctx.traceparent,
  );

  bridge<AppendTrace>(
    appendChannel,
    (ctx, parent) =>
      tracer.startSpan(
        'chronicle.append',
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'chronicle.store': ctx.backend,
            'chronicle.stream': ctx.streamId,
            'chronicle.streams': ctx.streams,
            'chronicle.events': ctx.events,
          },
        },
        parent,
      ),
    (span, { result }) => {
      if (!result || result.length === 0) return;
      span.setAttributes({
        'chronicle.stream.version': result[0].version,
        'chronicle.position': Math.max(...result.map((r) => r.position)),
      });
    },
  );

  bridge<ProjectionBatchTrace>(
    projectionBatchChannel,
    (ctx, parent) => {
      const links = [];
      for (const writer of ctx.writers) {
        const parsed = parseTraceparent(writer);
        if (parsed) {
          links.push({
            context: { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.flags, isRemote: true },
          });
        }
      }
      return tracer.startSpan(
        `projection.batch ${ctx.projection}`,
        {
          kind: SpanKind.CONSUMER,
          links,
          attributes: {
            'chronicle.projection': ctx.projection,
            'chronicle.projection.generation': ctx.generation,
            'chronicle.events': ctx.events,
            'chronicle.position.after': ctx.after,
            'chronicle.position': ctx.checkpoint,
          },
        },
        parent,
      );
    },
    (span, { result }) => {
      if (!result) return;
      span.setAttribute('chronicle.position.committed', result.committed);
      if (result.failure !== undefined) {
        span.setAttribute('chronicle.outcome', 'PROJECTION_FAILED');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'a handler failed; the batch committed up to the event before' });
      }
    },
  );

  // HTTP requests have no single function to wrap (hooks open and close them), so chronicle/http publishes start and
  // asyncEnd itself, and the route passes the server span's traceparent on to the buses.
  const onHttpStart = (message: unknown) => {
    const ctx = message as HttpRequestTrace;
    const span = tracer.startSpan(
      `${ctx.method} ${ctx.route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': ctx.method, 'http.route': ctx.route } },
      parentOf(ctx.traceparent),
    );
    spans.set(ctx, span);
    ctx.traceparent = traceparentOf(span) ?? ctx.traceparent;
  };
  const onHttpEnd = (message: unknown) => {
    const ctx = message as HttpRequestTrace;
    const span = spans.get(ctx);
    if (!span) return;
    spans.delete(ctx);
    if (ctx.statusCode !== undefined) {
      span.setAttribute('http.response.status_code', ctx.statusCode);
      if (ctx.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    if (ctx.aborted)
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the response' });
    span.end();
  };
  httpRequestChannel.start.subscribe(onHttpStart);
  httpRequestChannel.asyncEnd.subscribe(onHttpEnd);
  undo.push(() => {
    httpRequestChannel.start.unsubscribe(onHttpStart);
    httpRequestChannel.asyncEnd.unsubscribe(onHttpEnd);
  });

  return {
    close() {
      for (const u of undo.splice(0)) u();
    },
  };
}
