// The fetch-standard handler: the Fastify plugin's routes, problem bodies, auth, OpenAPI, SSE and minPosition as a
// `(Request) => Promise<Response>` that Hono (or Bun, Deno, a worker) mounts.
import { ChronicleError, enforceRoles, type Principal, type QueryBus, type QueryDefinition, toJsonSchema } from 'chronicle-es';
import {
  correlationIdFrom,
  createQueryStringCoercer,
  DEFAULT_MAX_JSON_DEPTH,
  type EndpointAccess,
  endpointAccessCheck,
  type HeaderMap,
  type HttpApiOptions,
  idempotencyKeyFrom,
  isReady,
  openApiBody,
  problemOf,
  type QueryStringCoercer,
  type ReadinessReport,
  readConsistency,
  toProblem,
  validTraceparent,
} from '../http-common/index.js';
import { eventStreamBody } from './event-stream.js';
import { BodyProblem, readJsonBody } from './read-json-body.js';
import { headerMap, jsonResponse, problemResponse } from './responses.js';

export type FetchHandlerOptions = HttpApiOptions & {
  /** `write`: commands only; `read`: queries and the event stream only. Default `all`. */
  serve?: 'all' | 'write' | 'read';
  /**
   * `GET /metrics` from a registry you fill (a prom-client `Registry` is one), e.g. with chronicle-es/http's
   * `projectionMetrics`; who may read it (default: anyone). Without it `/metrics` is not served.
   */
  metrics?: { registry: { readonly contentType: string; metrics(): Promise<string> }; access?: EndpointAccess };
  /** Told of every server fault (5xx that is not a known unavailability), for your logger. */
  onError?: (err: unknown, request: Request) => void;
};

/** A fetch handler; `close()` ends the open event streams (call it before the server closes). */
export type FetchHandler = ((request: Request) => Promise<Response>) & { close(): void };

const MiB = 1024 * 1024;
// 5xx that report a state already logged where it arose, or a wait the client bounded: not server faults.
const KNOWN_UNAVAILABLE = new Set<string>(['TIMEOUT', 'READ_STORE_CORRUPT', 'PROJECTION_FAILED', 'CLOSED']);
// Fastify's limit on a route parameter; a longer name matches no route there, so none here either.
const MAX_PARAM_LENGTH = 100;

type Route = { methods: readonly string[]; serve(request: Request, context: Context): Promise<Response> };
type Context = { headers: HeaderMap; correlationId: string; name: string; url: URL };

/**
 * Serves a command bus and/or query bus on the fetch standard, with the same routes and answers as `chronicleHttp`.
 * @throws INVALID_ARGUMENT when `serve` asks for a side whose bus is missing, or for an invalid `events` access
 */
export function createFetchHandler(options: FetchHandlerOptions): FetchHandler {
  const serve = options.serve ?? 'all';
  const commands = serve === 'all' || serve === 'write' ? options.commandBus : undefined;
  const queries = serve === 'all' || serve === 'read' ? options.queryBus : undefined;
  if (serve === 'write' && !commands) throw new ChronicleError('INVALID_ARGUMENT', "serve: 'write' needs a commandBus");
  if (serve === 'read' && !queries) throw new ChronicleError('INVALID_ARGUMENT', "serve: 'read' needs a queryBus");
  const notifications = serve !== 'write' ? options.notifications : undefined;
  const { heartbeatMs = 15_000, positions, ...eventsAccess } = options.events ?? {};
  const eventsRefusal = endpointAccessCheck(eventsAccess, 'the event stream');
  const prefix = options.prefix ?? '';
  const bodyLimit = options.bodyLimit ?? MiB;
  const maxDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const consistencyOptions = { defaultWaitMs: options.defaultWaitMs ?? 5000, maxWaitMs: options.maxWaitMs ?? 30_000 };
  const authenticate = options.authenticate;
  const openStreams = new Set<() => void>();

  const principalOf = async (headers: HeaderMap): Promise<Principal | undefined> =>
    authenticate ? await authenticate({ headers }) : undefined;

  const coercers = new WeakMap<QueryDefinition, QueryStringCoercer>();
  const coercerOf = (definition: QueryDefinition): QueryStringCoercer => {
    let coercer = coercers.get(definition);
    if (!coercer) {
      coercer = createQueryStringCoercer(safeJsonSchema(definition));
      coercers.set(definition, coercer);
    }
    return coercer;
  };

  const openapiBody = openApiBody({
    info: options.openapi,
    commands,
    queries,
    prefix,
    secured: authenticate !== undefined,
    events: notifications !== undefined,
  });

  const runQuery = async (bus: QueryBus, context: Context, principal: Principal | undefined, payload: unknown, min: unknown) => {
    const consistency = readConsistency(min, context.headers, consistencyOptions);
    const result = await bus.run(context.name, payload, {
      principal,
      minPosition: consistency.minPosition,
      waitMs: consistency.waitMs,
      correlationId: context.correlationId,
      requestId: context.correlationId,
      traceparent: validTraceparent(context.headers.traceparent),
    });
    // undefined is not JSON; a handler that found nothing and did not throw NOT_FOUND answers null.
    return jsonResponse(result === undefined ? 'null' : JSON.stringify(result), context.correlationId);
  };

  const fixed = new Map<string, Route>();
  const named = new Map<string, Route>();
  if (commands) {
    named.set('commands', {
      methods: ['POST'],
      async serve(request, context) {
        const principal = await principalOf(context.headers);
        // Before the body is read: a body from someone who may never send this is not worth parsing (as in Fastify).
        enforceRoles(commands.definition(context.name)?.roles, principal, `send ${context.name}`);
        const body = await readJsonBody(request, bodyLimit, maxDepth);
        const result = await commands.dispatch(context.name, body === undefined ? {} : body, {
          principal,
          idempotencyKey: idempotencyKeyFrom(context.headers, principal),
          correlationId: context.correlationId,
          requestId: context.correlationId,
          traceparent: validTraceparent(context.headers.traceparent),
        });
        const status = { ok: true, streamId: result.streamId, version: result.version, position: result.position };
        return jsonResponse(JSON.stringify(status), context.correlationId);
      },
    });
  }
  if (queries) {
    named.set('queries', {
      methods: ['GET', 'HEAD', 'POST'],
      async serve(request, context) {
        const principal = await principalOf(context.headers);
        enforceRoles(queries.definition(context.name)?.roles, principal, `run ${context.name}`);
        if (request.method === 'POST') {
          const body = await readJsonBody(request, bodyLimit, maxDepth);
          return runQuery(
            queries,
            context,
            principal,
            body === undefined ? {} : body,
            searchObject(context.url.searchParams).minPosition,
          );
        }
        const { minPosition, ...rest } = searchObject(context.url.searchParams);
        const definition = queries.definition(context.name);
        return runQuery(queries, context, principal, definition ? coercerOf(definition)(rest) : rest, minPosition);
      },
    });
  }
  if (notifications) {
    fixed.set('/events/stream', {
      methods: ['GET'],
      async serve(request, context) {
        const principal = await principalOf(context.headers);
        const refused = eventsRefusal?.(principal);
        if (refused) throw refused;
        const body = eventStreamBody(
          {
            notifications,
            positions,
            heartbeatMs,
            maxBufferedBytes: MiB,
            onError: (err) => options.onError?.(err, request),
          },
          (end) => {
            openStreams.add(end);
            return () => openStreams.delete(end);
          },
        );
        return new Response(body, {
          headers: {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache, no-transform',
            'x-accel-buffering': 'no',
            'x-correlation-id': context.correlationId,
          },
        });
      },
    });
  }
  const metrics = options.metrics;
  if (metrics) {
    const metricsRefusal = endpointAccessCheck(metrics.access ?? { public: true }, 'metrics');
    fixed.set('/metrics', {
      methods: ['GET', 'HEAD'],
      async serve(_request, context) {
        const refused = metricsRefusal?.(await principalOf(context.headers));
        if (refused) throw refused;
        return new Response(await metrics.registry.metrics(), {
          headers: { 'content-type': metrics.registry.contentType, 'x-correlation-id': context.correlationId },
        });
      },
    });
  }
  fixed.set('/openapi.json', {
    methods: ['GET', 'HEAD'],
    serve: async (_request, context) => jsonResponse(openapiBody(), context.correlationId),
  });
  // Liveness: the process answers. No store access, so a probe every second costs nothing.
  const alive = JSON.stringify({ status: 'ok' });
  fixed.set('/health', {
    methods: ['GET', 'HEAD'],
    serve: async (_request, context) => jsonResponse(alive, context.correlationId),
  });
  fixed.set('/health/ready', {
    methods: ['GET', 'HEAD'],
    async serve(request, context) {
      let report: ReadinessReport;
      try {
        report = options.readiness ? await options.readiness() : {};
      } catch (err) {
        options.onError?.(err, request);
        report = { ready: false, checks: { readiness: { ok: false, error: 'error' } } };
      }
      const body = { ready: isReady(report), checks: report.checks ?? {}, projections: report.projections ?? [] };
      if (body.ready) return jsonResponse(JSON.stringify(body), context.correlationId);
      return problemResponse({ ...problemOf('UNAVAILABLE'), ...body }, context.correlationId);
    },
  });

  const handler = async (request: Request): Promise<Response> => {
    const headers = headerMap(request.headers);
    const correlationId = correlationIdFrom(headers);
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return problemResponse(problemOf('BAD_REQUEST', 'malformed URL'), correlationId);
    }
    const found = match(url.pathname);
    if (found === 'bad-url') return problemResponse(problemOf('BAD_REQUEST', 'malformed URL'), correlationId);
    if (!found)
      return problemResponse(problemOf('ROUTE_NOT_FOUND', `no route for ${request.method} ${shortPath(url)}`), correlationId);
    const { route, name } = found;
    if (!route.methods.includes(request.method)) {
      const allowed = route.methods.join(', ');
      return problemResponse(
        problemOf('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url.pathname.slice(0, 200)}; allowed: ${allowed}`),
        correlationId,
        { allow: allowed },
      );
    }
    try {
      const response = await route.serve(request, { headers, correlationId, name, url });
      return request.method === 'HEAD' ? new Response(null, { status: response.status, headers: response.headers }) : response;
    } catch (err) {
      const problem = err instanceof BodyProblem ? problemOf(err.code, err.message) : toProblem(err);
      if (problem.status >= 500 && !KNOWN_UNAVAILABLE.has(problem.code)) options.onError?.(err, request);
      const details = (err as { details?: { credentials?: unknown } }).details;
      const invalidToken = problem.status === 401 && details?.credentials === 'invalid';
      return problemResponse(
        problem,
        correlationId,
        invalidToken ? { 'www-authenticate': 'Bearer error="invalid_token"' } : undefined,
      );
    }
  };

  const match = (pathname: string): { route: Route; name: string } | 'bad-url' | undefined => {
    if (!pathname.startsWith(prefix)) return undefined;
    const path = pathname.slice(prefix.length);
    const route = fixed.get(path);
    if (route) return { route, name: '' };
    const slash = path.indexOf('/', 1);
    if (slash === -1 || path.indexOf('/', slash + 1) !== -1) return undefined;
    const kind = named.get(path.slice(1, slash));
    const raw = path.slice(slash + 1);
    if (!kind || raw.length === 0) return undefined;
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return 'bad-url';
    }
    return name.length > MAX_PARAM_LENGTH ? undefined : { route: kind, name };
  };

  return Object.assign(handler, {
    close() {
      for (const end of [...openStreams]) end();
    },
  });
}

// Repeated keys become arrays, as Fastify's query-string parser gives them; a null prototype keeps `__proto__` a key.
function searchObject(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of params) {
    const seen = out[key];
    out[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

function shortPath(url: URL): string {
  return (url.pathname + url.search).slice(0, 200);
}

function safeJsonSchema(definition: QueryDefinition): Record<string, unknown> {
  try {
    return toJsonSchema(definition.schema);
  } catch {
    return {};
  }
}
