// The Fastify plugin: problem+json errors app-wide, then the Chronicle routes in their own JSON-only scope.
import { ChronicleError } from 'chronicle-es';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  DEFAULT_MAX_JSON_DEPTH,
  deeperThan,
  type HttpApiOptions,
  isReady,
  openApiBody,
  type Problem,
  problemOf,
  type ReadinessReport,
  toProblem,
} from '../http-common/index.js';
import { accessHooks, type EndpointAccess } from './access.js';
import { type ConsoleOptions, consoleEnabled, consolePlugin } from './console/index.js';
import { createHttpMetrics, type HttpMetrics, type MetricsRegistry } from './metrics.js';
import { authHook, CORRELATION_ID_HEADER, correlationIdOf } from './request-context.js';
import { endRequestTrace, startRequestTrace } from './request-trace.js';
import { registerCommandRoutes } from './routes-commands.js';
import { registerQueryRoutes } from './routes-queries.js';
import { registerEventStream } from './sse.js';

export type ChronicleHttpOptions = HttpApiOptions & {
  /**
   * `write`: commands only; `read`: queries and the event stream only; `ops`: only the operator endpoints (health,
   * readiness, metrics and the event stream), e.g. on a second listener bound to an internal interface. Health and
   * metrics are served by every kind, OpenAPI by all but `ops`. Default `all`.
   */
  serve?: 'all' | 'write' | 'read' | 'ops';
  /** Adds application metrics to this server's registry. Needs prom-client. */
  metrics?: (registry: MetricsRegistry) => void | Promise<void>;
  /**
   * A prom-client `Registry` to use instead of a fresh per-server one. Servers given the same registry share its
   * metrics (the first one's `metrics` and `defaultMetrics` apply), so an `ops` listener can serve the main server's.
   */
  metricsRegistry?: MetricsRegistry;
  /** Who may read `GET /metrics`; `false` serves no metrics here (another listener does). Default `{ public: true }`. */
  metricsAccess?: EndpointAccess | false;
  /** Process metrics in `/metrics`. Default true. */
  defaultMetrics?: boolean;
  /**
   * The web console at `{prefix}/console`: served when given, unless NODE_ENV is `production` and `enabled` is not
   * true (opt-in there); `false` never. Sign-in uses `authenticate`; its Messages page uses the buses given here.
   */
  console?: ConsoleOptions | false;
};

const MiB = 1024 * 1024;
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** Set by createServer, whose `genReqId` makes `request.id` the correlation id (so every log line carries it). */
export const REQUEST_ID_IS_CORRELATION_ID = Symbol.for('chronicle.requestIdIsCorrelationId');

/**
 * Sends a problem as `application/problem+json` with the request's `correlationId` (401 adds
 * `WWW-Authenticate: Bearer`).
 */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  const correlationId = correlationIdOf(reply.request);
  problem.correlationId = correlationId;
  if (!reply.hasHeader(CORRELATION_ID_HEADER)) reply.header(CORRELATION_ID_HEADER, correlationId);
  reply.code(problem.status).type(PROBLEM_TYPE);
  if (problem.status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer');
  return reply.send(JSON.stringify(problem));
}

/**
 * The error handler Chronicle installs: every error becomes problem+json. Server faults (5xx) are logged at error
 * with the error and its stack, never detailed to the client; what the client caused (4xx, and the 504 of a
 * consistency wait that ran out) is logged at info (warn for the 504) as one line without a stack.
 */
// 5xx that report a state already logged once where it arose (a failed projection, a read store being rebuilt, a
// shutdown) or that a client caused (a minPosition wait it bounded): one warn line each, no stack, so they cannot
// flood the error log.
const KNOWN_UNAVAILABLE = new Set<string>(['TIMEOUT', 'READ_STORE_CORRUPT', 'PROJECTION_FAILED', 'CLOSED']);

export function problemErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(err);
  if (problem.status >= 500 && !KNOWN_UNAVAILABLE.has(problem.code)) {
    request.log.error({ err }, 'request failed');
  } else {
    const details = (err as { details?: { credentials?: unknown; reason?: unknown } }).details;
    const fields = { status: problem.status, code: problem.code, detail: problem.detail, reason: details?.reason };
    if (problem.status >= 500)
      request.log.warn(fields, problem.code === 'TIMEOUT' ? 'consistency wait timed out' : 'unavailable');
    else request.log.info(fields, 'request refused');
    if (problem.status === 401 && details?.credentials === 'invalid')
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
  }
  return sendProblem(reply, problem);
}

/**
 * Serves a command bus and/or query bus over HTTP. Registered without encapsulation: its error
 * handler, 404 handler and metrics hook apply to the whole app. Without prom-client installed, `GET /metrics`
 * answers 501 (and a warning is logged once); everything else is served.
 * @throws INVALID_ARGUMENT at registration when `serve` asks for a side whose bus is missing, or when `metrics` or
 * `metricsRegistry` is given but prom-client is not installed, or the console is served without `authenticate`
 */
export async function chronicleHttp(app: FastifyInstance, options: ChronicleHttpOptions): Promise<void> {
  const serve = options.serve ?? 'all';
  const commands = serve === 'all' || serve === 'write' ? options.commandBus : undefined;
  const queries = serve === 'all' || serve === 'read' ? options.queryBus : undefined;
  if (serve === 'write' && !commands) throw new ChronicleError('INVALID_ARGUMENT', "serve: 'write' needs a commandBus");
  if (serve === 'read' && !queries) throw new ChronicleError('INVALID_ARGUMENT', "serve: 'read' needs a queryBus");
  const consoleOptions = consoleEnabled(options.console) ? (options.console as ConsoleOptions) : undefined;
  if (consoleOptions && !options.authenticate) {
    throw new ChronicleError('INVALID_ARGUMENT', 'the console needs `authenticate`: operators sign in with an API key');
  }
  const events = serve !== 'write' ? options.notifications : undefined;
  const prefix = options.prefix ?? '';
  const bodyLimit = options.bodyLimit ?? MiB;
  const maxDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const metrics = await metricsOf(options);
  const stopChannelMetrics = metrics.listen();
  app.addHook('onClose', async () => stopChannelMetrics());
  if (!metrics.registry && options.metricsAccess !== false) {
    app.log.warn('prom-client is not installed: GET /metrics answers 501 (npm install prom-client)');
  }
  const onRequest = authHook(options.authenticate);
  const { heartbeatMs, positions, ...eventsAccess } = options.events ?? {};
  const eventHooks = accessHooks(eventsAccess, 'the event stream', onRequest);
  const metricsHooks =
    options.metricsAccess === false ? undefined : accessHooks(options.metricsAccess ?? { public: true }, 'metrics', onRequest);

  if (!app.hasRequestDecorator('chroniclePrincipal')) app.decorateRequest('chroniclePrincipal', undefined);
  if (!app.hasRequestDecorator('chronicleCorrelationId')) app.decorateRequest('chronicleCorrelationId', undefined);
  if (!app.hasRequestDecorator('chronicleTrace')) app.decorateRequest('chronicleTrace', undefined);
  const idIsCorrelationId = (options as { [REQUEST_ID_IS_CORRELATION_ID]?: boolean })[REQUEST_ID_IS_CORRELATION_ID] === true;
  // Callback style, like every per-request hook here: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    const id = idIsCorrelationId ? request.id : correlationIdOf(request);
    request.chronicleCorrelationId = id;
    reply.header(CORRELATION_ID_HEADER, id);
    startRequestTrace(request, reply);
    done();
  });
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((request, reply) => {
    const allowed = allowedMethods(app, request);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      sendProblem(
        reply,
        problemOf(
          'METHOD_NOT_ALLOWED',
          `${request.method} is not allowed on ${pathOf(request.url)}; allowed: ${allowed.join(', ')}`,
        ),
      );
      return;
    }
    sendProblem(reply, problemOf('ROUTE_NOT_FOUND', `no route for ${request.method} ${request.url.slice(0, 200)}`));
  });
  // Callback style: no promise per request on the hot path.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.method, request.routeOptions.url ?? '(unmatched)', reply.statusCode, reply.elapsedTime / 1000);
    endRequestTrace(request, reply.statusCode);
    done();
  });

  const openapiBody = openApiBody({
    info: options.openapi,
    commands,
    queries,
    prefix,
    secured: options.authenticate !== undefined,
    events: events !== undefined,
  });

  await app.register(
    async (scope) => {
      // Only JSON bodies (anything else is 415), and fastify's own safe parser with poisoning refused
      // whatever the server options say, plus a depth bound.
      scope.removeAllContentTypeParsers();
      const parse = scope.getDefaultJsonParser('error', 'error');
      const jsonParser = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
        parse(request, body as string, (err: Error | null, value?: unknown) => {
          if (err) return done(err);
          if (deeperThan(value, maxDepth)) {
            return done(new ChronicleError('INVALID_ARGUMENT', `JSON nested deeper than ${maxDepth} levels`));
          }
          done(null, value);
        });
      };
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, jsonParser);
      scope.addContentTypeParser(/^application\/[\w.-]+\+json(?:;|$)/, { parseAs: 'string' }, jsonParser);

      if (commands) registerCommandRoutes(scope, { bus: commands, metrics, bodyLimit, onRequest });
      if (queries) {
        registerQueryRoutes(scope, {
          bus: queries,
          metrics,
          bodyLimit,
          onRequest,
          defaultWaitMs: options.defaultWaitMs ?? 5000,
          maxWaitMs: options.maxWaitMs ?? 30_000,
        });
      }
      if (events) {
        registerEventStream(scope, { notifications: events, positions, metrics, onRequest: eventHooks, heartbeatMs });
      }

      if (serve !== 'ops') {
        scope.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openapiBody()));
      }
      // Liveness: the process answers. No store access, so a probe every second costs nothing.
      const alive = JSON.stringify({ status: 'ok' });
      scope.get('/health', (_request, reply) => {
        reply.type('application/json; charset=utf-8').send(alive);
      });
      scope.get('/health/ready', async (request, reply) => {
        let report: ReadinessReport;
        try {
          report = options.readiness ? await options.readiness() : {};
        } catch (err) {
          request.log.error({ err }, 'readiness check failed');
          report = { ready: false, checks: { readiness: { ok: false, error: 'error' } } };
        }
        const body = { ready: isReady(report), checks: report.checks ?? {}, projections: report.projections ?? [] };
        if (body.ready) return reply.type('application/json; charset=utf-8').send(JSON.stringify(body));
        request.log.warn({ checks: body.checks, projections: body.projections }, 'not ready');
        return sendProblem(reply, { ...problemOf('UNAVAILABLE'), ...body });
      });
      if (metricsHooks) {
        scope.get('/metrics', { onRequest: metricsHooks }, async (_request, reply) =>
          metrics.registry
            ? reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
            : sendProblem(reply, problemOf('NOT_IMPLEMENTED', 'install prom-client to enable /metrics')),
        );
      }
    },
    { prefix },
  );

  if (consoleOptions && options.authenticate) {
    const base = `${prefix}/console`;
    await app.register(consolePlugin, {
      ...consoleOptions,
      commandBus: consoleOptions.commandBus ?? commands,
      queryBus: consoleOptions.queryBus ?? queries,
      authenticate: options.authenticate,
      base,
      prefix: base,
    });
  }
}

// Metrics objects by registry: a second server on the same registry must not register the same metrics again.
const metricsByRegistry = new WeakMap<MetricsRegistry, Promise<HttpMetrics>>();

// Kept as a promise per registry, so two servers built at once over one registry still share one set of metrics.
function metricsOf(options: ChronicleHttpOptions): Promise<HttpMetrics> {
  const shared = options.metricsRegistry && metricsByRegistry.get(options.metricsRegistry);
  if (shared) return shared;
  const metrics = createHttpMetrics({
    registry: options.metricsRegistry,
    defaultMetrics: options.defaultMetrics,
    extend: options.metrics,
  });
  if (options.metricsRegistry) metricsByRegistry.set(options.metricsRegistry, metrics);
  return metrics;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

// The methods the URL's route answers, for a 405 instead of a 404 (only on requests that matched no route).
function allowedMethods(app: FastifyInstance, request: FastifyRequest): string[] {
  // An absolute-form target is not a path the router can look up by method.
  if (request.url.charCodeAt(0) !== 47) return [];
  try {
    return METHODS.filter((method) => method !== request.method && app.findRoute({ method, url: request.url }) !== null);
  } catch {
    return [];
  }
}

function pathOf(url: string): string {
  const end = url.indexOf('?');
  return (end === -1 ? url : url.slice(0, end)).slice(0, 200);
}

// Marks the plugin as not encapsulated (what fastify-plugin does), so the handlers above reach the whole app.
Object.assign(chronicleHttp, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'chronicle-http' });
