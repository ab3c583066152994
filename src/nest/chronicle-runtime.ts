// What ChronicleModule builds from its options: the buses, the projector, the HTTP handler, and their ordered
// start and stop — kept free of Nest so its order is plain to read and to test.
import {
  ChronicleError,
  type CommandBus,
  type CommandBusOptions,
  createCommandBus,
  createProjector,
  createQueryBus,
  type EventStore,
  type Middleware,
  type Projection,
  type ProjectionStore,
  type Projector,
  type ProjectorOptions,
  type QueryBus,
  type QueryBusOptions,
} from 'chronicle-es';
import { type Authenticator, createFetchHandler, type FetchHandler, type FetchHandlerOptions } from 'chronicle-es/fetch';

/** Something started after the projector and stopped before it, e.g. `createWorkflows(...)` (process managers). */
export type ChronicleService = { start(): Promise<void> | void; stop(): Promise<void> | void };

export type ChronicleModuleOptions = {
  /** The write side; closed on shutdown unless `closeStores` is false. */
  eventStore: EventStore;
  /** The read side the projections write; closed on shutdown unless `closeStores` is false. */
  readStore?: ProjectionStore<any, unknown>;
  /** Projections run by the module's projector (needs `readStore`); queries' minPosition waits on it. */
  projections?: readonly Projection<any>[];
  /** Projector settings (batch size, poll interval, worker lease). */
  projector?: Omit<ProjectorOptions<unknown>, 'eventStore' | 'readStore' | 'projections'>;
  /** Started after the projector on bootstrap, stopped before it on shutdown (process managers, schedulers). */
  services?: readonly ChronicleService[];
  /** Command bus middleware and authorizer. */
  commandBus?: CommandBusOptions;
  /** Query bus middleware, authorizer and default wait; `waitForPosition` defaults to the projector's. */
  queryBus?: QueryBusOptions;
  /** Resolves the principal of a request (API keys, JWT) for the HTTP routes and ChronicleRequest. */
  authenticate?: Authenticator;
  /**
   * Serves chronicle-es/http's routes (`/commands/:name`, `/queries/:name`, `/openapi.json`, `/events/stream`,
   * `/health`) from a Nest controller, with the same statuses and problem bodies; give `prefix` when the app has a
   * global prefix. Default: not served.
   */
  http?: Omit<FetchHandlerOptions, 'commandBus' | 'queryBus' | 'authenticate'>;
  /** Close the event and read stores on shutdown. Default true. */
  closeStores?: boolean;
  /** On shutdown, how long commands and queries still running may take before the stores close anyway. Default 10000. */
  drainTimeoutMs?: number;
};

/** The running parts; `start` and `stop` are called by the module's lifecycle hooks. */
export type ChronicleRuntime = {
  commandBus: CommandBus;
  queryBus: QueryBus;
  projector: Projector | undefined;
  http: FetchHandler | undefined;
  authenticate: Authenticator | undefined;
  start(): Promise<void>;
  /** Ends the event streams, so the HTTP server can close (before Nest closes it). */
  beforeClose(): void;
  /** Waits for running dispatches, then stops services, then the projector, then closes the stores. */
  stop(): Promise<void>;
};

/**
 * Builds the buses and projector of the module.
 * @throws INVALID_ARGUMENT for projections without a read store
 */
export function createChronicleRuntime(options: ChronicleModuleOptions): ChronicleRuntime {
  const projections = options.projections ?? [];
  if (projections.length > 0 && !options.readStore) {
    throw new ChronicleError('INVALID_ARGUMENT', 'ChronicleModule: projections need a readStore');
  }
  const projector =
    projections.length > 0 && options.readStore
      ? createProjector({ ...options.projector, eventStore: options.eventStore, readStore: options.readStore, projections })
      : undefined;
  // Every dispatch is counted, so shutdown waits for the ones running before it stops what they write to.
  let running = 0;
  let drained: (() => void) | undefined;
  const track: Middleware = async (_context, next) => {
    running++;
    try {
      return await next();
    } finally {
      running--;
      if (running === 0) drained?.();
    }
  };
  const commandBus = createCommandBus({
    ...options.commandBus,
    middleware: [track, ...(options.commandBus?.middleware ?? [])],
  });
  const queryBus = createQueryBus({
    ...(projector && { waitForPosition: (position, wait) => projector.waitForPosition(position, wait) }),
    ...options.queryBus,
    middleware: [track, ...(options.queryBus?.middleware ?? [])],
  });
  const http = options.http
    ? createFetchHandler({ ...options.http, commandBus, queryBus, authenticate: options.authenticate })
    : undefined;
  const services = options.services ?? [];
  let started = false;

  const drain = async (timeoutMs: number) => {
    if (running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        drained = resolve;
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  };

  return {
    commandBus,
    queryBus,
    projector,
    http,
    authenticate: options.authenticate,
    async start() {
      if (started) return;
      started = true;
      await projector?.start();
      for (const service of services) await service.start();
    },
    beforeClose() {
      http?.close();
    },
    async stop() {
      await drain(options.drainTimeoutMs ?? 10_000);
      // Reverse of start: what issues commands stops before the projector it follows, both before the stores.
      for (const service of [...services].reverse()) await service.stop();
      await projector?.stop();
      if (options.closeStores !== false) {
        await options.readStore?.close();
        await options.eventStore.close();
      }
    },
  };
}
