// The Shop over HTTP: chronicle/http does the work; the Shop only supplies its buses, auth and read-side state.
import type { ProjectionStatus } from 'chronicle-es';
import type { Authenticator, ConsoleOptions, MetricsRegistry, ReadinessCheck, ReadinessReport } from 'chronicle-es/http';
import { createReadiness, createServer, type EndpointAccess, projectionMetrics, relayMetrics } from 'chronicle-es/http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Shop } from './app.js';
import type { Role } from './messages/access.js';

/** Who may follow `GET /events/stream`: every role, since each reads something (a customer, its own orders). */
export const EVENT_STREAM_ROLES: readonly Role[] = ['admin', 'clerk', 'reader', 'customer'];
/** Who may read `GET /metrics` when it needs a credential. */
export const METRICS_ROLES: readonly Role[] = ['admin'];

export type ShopServerOptions = {
  authenticate: Authenticator;
  /**
   * `write`: commands only; `read`: queries (and the event stream, when the Shop projects); `project`: health,
   * readiness and metrics only; `ops`: health, readiness, metrics and the event stream only, for a second listener.
   * Default `all`.
   */
  serve?: 'all' | 'write' | 'read' | 'project' | 'ops';
  /** A pino logger, or false for none. Default: pino JSON at info. */
  logger?: boolean | FastifyBaseLogger;
  /** Who may read `/metrics`: anyone, or an admin credential. Default `admin`. */
  metricsAccess?: 'public' | 'admin';
  /** Leave `/metrics` and `/events/stream` to a `serve: 'ops'` server (given the same `metricsRegistry`). */
  opsElsewhere?: boolean;
  /** Shared by the main and the ops server, so the ops one serves the main one's metrics. */
  metricsRegistry?: Registry;
  /** Time a client has to send a whole request, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Serve the web console at /console (where the event store is: roles `all`, `write`, `project`). Default false. */
  console?: boolean;
};

/** Who may sign in to the console (admins alone rebuild, retry and skip projections). */
export const CONSOLE_ROLES: readonly Role[] = ['admin', 'clerk', 'reader'];

/** Builds the Shop's HTTP server (not yet listening). */
export function createShopServer(shop: Shop, options: ShopServerOptions): Promise<FastifyInstance> {
  const serve = options.serve ?? 'all';
  const ops = serve === 'ops' || serve === 'project' || !options.opsElsewhere;
  // The change feed is for clients of the read models: served beside queries, never by a projector-only process.
  const { changes } = shop;
  const eventStream = ops && changes !== undefined;
  const metricsAccess: EndpointAccess = options.metricsAccess === 'public' ? { public: true } : { roles: METRICS_ROLES };
  return createServer({
    commandBus: serve === 'all' || serve === 'write' ? shop.commandBus : undefined,
    queryBus: serve === 'all' || serve === 'read' ? shop.queryBus : undefined,
    serve: serve === 'project' ? 'ops' : serve,
    authenticate: options.authenticate,
    notifications: eventStream ? (listener) => changes.onChange(listener) : undefined,
    events: { roles: EVENT_STREAM_ROLES, positions: changes && (() => changes.positions()) },
    metrics: metricsOf(shop),
    metricsRegistry: options.metricsRegistry,
    metricsAccess: ops ? metricsAccess : false,
    // /health/ready: the stores this role uses answer, no projection has failed, and the read store is not being
    // rebuilt after damage (GET /health stays a cheap liveness probe).
    readiness: shopReadiness(shop),
    openapi: { title: 'Shop — the Chronicle reference application', version: '1.0.0' },
    console: consoleOf(shop, options, serve),
    logger: options.logger ?? true,
    requestTimeoutMs: options.requestTimeoutMs,
  });
}

/** The Shop's `/health/ready`: its stores answer, no projection has failed, the read side is sound. */
export function shopReadiness(shop: Shop): () => Promise<ReadinessReport> {
  const { projector, eventStore, relay, jetStreamSource } = shop;
  const readStore = shop.readStore ?? shop.redisReadStore;
  const stores = {
    ...(eventStore && { events: () => eventStore.headPosition() }),
    ...(readStore && { read: () => readStore.list() }),
  };
  return async () => {
    // Each projection is listed; with leases also who holds it (and whether this worker does), taken from the same
    // status report rather than a second one.
    let status: readonly ProjectionStatus[] = [];
    const report = await createReadiness({
      projector: projector && { status: async () => (status = await projector.status()) },
      stores,
    })();
    const holders = new Map(status.map((s) => [s.name, s]));
    const projections = report.projections?.map((p) => {
      const { owner, held } = holders.get(p.name) ?? {};
      return owner === undefined && held === undefined ? p : { ...p, owner, held };
    });
    const rebuilding = shop.readSideState !== undefined && shop.readSideState() !== 'sound';
    const readSide = (await shop.ready())
      ? { ok: true }
      : { ok: false, error: rebuilding ? 'read side rebuilding' : 'read side not ready' };
    const jetStream: Record<string, ReadinessCheck> = {
      ...(relay && { relay: await relayCheck(relay) }),
      ...(jetStreamSource && { jetstream: sourceCheck(jetStreamSource) }),
    };
    return { ...report, ...(projections && { projections }), checks: { ...report.checks, readSide, ...jetStream } };
  };
}

// #region console
// The console where this server has the event store to show, never on the ops listener.
function consoleOf(shop: Shop, options: ShopServerOptions, serve: ShopServerOptions['serve']): ConsoleOptions | false {
  if (!options.console || !shop.eventStore || serve === 'ops' || serve === 'read') return false;
  return {
    eventStore: shop.eventStore,
    projector: shop.projector,
    processManagers: shop.workflows?.projections.map((p) => p.name),
    enabled: true,
    viewRoles: CONSOLE_ROLES,
    title: 'Shop console',
  };
}
// #endregion console

/** Projections' gauges, and the relay's where one runs, for a server's metrics registry. */
export function metricsOf(shop: Shop): ((registry: MetricsRegistry) => Promise<void>) | undefined {
  const parts = [shop.projector && projectionMetrics(shop.projector), shop.relay && relayMetrics(shop.relay)].filter(
    (part) => part !== undefined,
  );
  if (parts.length === 0) return undefined;
  return async (registry) => {
    for (const part of parts) await part(registry);
  };
}

// A check carrying its status beside ok and error, as /health/ready shows it.
type DetailedCheck = ReadinessCheck & Record<string, unknown>;

// The relay's status as a readiness check. Only `failed` (a stream that refuses it: it stopped) makes the process
// unready; `reconnecting` is NATS away, which it rides out on its own while commands go on being stored.
async function relayCheck(relay: NonNullable<Shop['relay']>): Promise<DetailedCheck> {
  const { state, stream, position, lagEvents, lagSeconds, lastError } = await relay.status();
  return {
    ok: state !== 'failed',
    ...(lastError && { error: lastError.code ?? 'error' }),
    state,
    stream,
    position,
    lagEvents,
    lagSeconds,
  };
}

// The durable consumer's progress. `retrying` because NATS is away still serves what the read store holds; waiting for
// a stream that does not exist (yet) does not: such a node has seen nothing, and its answers would all be empty.
function sourceCheck(source: NonNullable<Shop['jetStreamSource']>): DetailedCheck {
  const { state, stream, durable, deliveredPosition, ackedPosition, pending, resets, lastError } = source.status();
  const noStream = state === 'retrying' && lastError?.code === 'NOT_FOUND';
  return {
    ok: state !== 'closed' && !noStream,
    ...(lastError && { error: lastError.code ?? 'error' }),
    state,
    stream,
    durable,
    deliveredPosition,
    ackedPosition,
    pending,
    resets,
  };
}
