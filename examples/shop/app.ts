// The Shop assembled for one role: event store, read store, projector and the buses it needs, without any HTTP; with
// JetStream also the relay (where the projector runs) or, in `read`, the consumer feeding a read store of its own.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Clock,
  type CommandBus,
  createCommandBus,
  createQueryBus,
  createWorkflows,
  type EventStore,
  type Middleware,
  type ProcessManager,
  type Projection,
  type ProjectionStore,
  type Projector,
  type QueryBus,
  type SchedulerOptions,
  type SqlReader,
  type SqlReadTx,
  type Workflows,
} from 'chronicle-es';
import type { JetStreamRelay, JetStreamSource } from 'chronicle-es/nats';
import type { RedisReadStore } from 'chronicle-es/redis';
import { type CheckpointChanges, projectorChanges } from './checkpoint-changes.js';
import { registerCommands } from './commands.js';
import { DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './jetstream-names.js';
import { openJetStreamReadSide } from './jetstream-read-side.js';
import { openPostgresReadSide } from './postgres-read-side.js';
import { shopProcesses } from './processes/index.js';
import { registerQueries } from './queries.js';
import { openQuerySide } from './query-side.js';
import { readNodeDurable, readStoreIdentity } from './read-node-durable.js';
import { openReadSide, type ReadSide, type ReadSideLog, type ReadSideState } from './read-side.js';
import { openShopEventStore } from './shop-event-store.js';
import { openShopRelay, type ShopRelay } from './shop-relay.js';
import { customerRowHandler, migrateCustomerTables } from './write-model/customer-rows.js';
import { moveCustomerStreams } from './write-model/move-customer-streams.js';

/**
 * What a Shop process does. `write`: commands only; `project`: the projector worker filling the read store (and
 * health and metrics); `read`: queries only, answered from a read store other processes fill; `all`: everything.
 */
export type ShopRole = 'all' | 'write' | 'project' | 'read';

/** A store on PostgreSQL: the server and the schema holding the store's tables (created on first use). */
export type PostgresLocation = {
  connectionString: string;
  schema: string;
  /** Connections in each store's pool (the adapters' default when absent). */
  poolSize?: number;
};

/** A read store on Redis: the server and the prefix of every key of the Shop's read models there. */
export type RedisLocation = { url: string; prefix: string };

/**
 * NATS JetStream between the Shop's processes. Where the projector runs (`all`, `project`) a relay publishes every
 * committed event into `stream`; a `read` process then has no event store and projects into its own read store from
 * the durable consumer `durable`. `write` uses none of it.
 */
export type ShopJetStreamOptions = {
  /** The NATS servers, `nats://host:port` (or `tls://…`); the Shop connects once and reconnects for as long as it runs. */
  servers: readonly string[];
  /** The relay's stream, created (subjects `<subjectPrefix>.>`, limits retention, file storage) when missing. Default `SHOP_EVENTS`. */
  stream?: string;
  /** Events go to `<subjectPrefix>.<category>.<type>`. Default `shop.events`. */
  subjectPrefix?: string;
  /** `read`: the durable consumer, one per read store. Default: derived from where the read store is (readNodeDurable). */
  durable?: string;
};

/** The read store as the Shop uses it, whichever engine holds it. */
export type ShopReadStore = ProjectionStore<SqlReadTx, SqlReader>;

export type ShopOptions<R extends ShopRole = ShopRole> = {
  /** Holds `events.db` (the write side) and, unless `readStorePath` says otherwise, `read.db`. */
  dataDir: string;
  /** Separate read-store file, e.g. one per read process when the read side is scaled out. */
  readStorePath?: string;
  /** Default `all`. */
  role?: R;
  /** Run around every command and query dispatch (logging, tracing). */
  middleware?: readonly Middleware[];
  /** How often the projector (and a `read` process's minPosition waits) look for progress made elsewhere, in ms. Default 200 (50 for waits). */
  pollIntervalMs?: number;
  /** The event store on PostgreSQL instead of `events.db` under `dataDir`. */
  eventStore?: PostgresLocation;
  /** The read store on PostgreSQL instead of a SQLite file. */
  readStore?: PostgresLocation;
  /** The read store on Redis (GetOrderStatus only): for a `read` process fed through `jetStream`. */
  redisReadStore?: RedisLocation;
  /** Events through NATS JetStream: the relay in `all` and `project`, a consumer feeding `read`. */
  jetStream?: ShopJetStreamOptions;
  /** This process's id as a projector worker (it shows in status and leases). Default: one the projector makes up. */
  workerId?: string;
  /** Conflicts a command re-decides before answering CONCURRENCY_CONFLICT. Default: commands.ts. */
  commandRetries?: number;
  /** How long an order may stay unpaid before it expires, in ms. Default 900 000 (15 minutes). */
  paymentTimeoutMs?: number;
  /** Fewer units available than this raise a low-stock alert. Default 5. */
  lowStockThreshold?: number;
  /** The workflows' clock (when schedules are due, in ms since the epoch); tests move it by hand. Default Date.now. */
  clock?: Clock;
  /** How the scheduler (in `all` and `project`) polls and batches due commands. Default: the core's. */
  scheduler?: SchedulerOptions;
  /** Where the read side reports a damaged read store and its rebuild. */
  log?: ReadSideLog;
};

/** Where the read models are, and a feed of their moves. */
export type ReadModelChanges = Pick<CheckpointChanges, 'onChange' | 'positions'>;

/** A Shop of some role; which parts are present is what `ShopOf<role>` makes required. */
export type Shop = {
  role: ShopRole;
  /** The write side's store; absent in `read`, which never touches it. */
  eventStore?: EventStore;
  /** Present in `write`, `project` (for the workflows' commands) and `all`. */
  commandBus?: CommandBus;
  /** The process managers and the scheduler, run by the projector: present in `project` and `all`. */
  workflows?: Workflows;
  /** Present in all roles but `write`, unless the read store is on Redis. */
  readStore?: ShopReadStore;
  /** The read store of a `read` process on Redis (then `readStore` is absent). */
  redisReadStore?: RedisReadStore;
  /** Present in `project` and `all`, and in `read` fed through JetStream. */
  projector?: Projector;
  /** Publishes every committed event to JetStream: in `project` and `all` with `jetStream`. */
  relay?: JetStreamRelay;
  /** The durable consumer feeding the projector of a `read` process with `jetStream`. */
  jetStreamSource?: JetStreamSource;
  /** Present in `read` and `all`. */
  queryBus?: QueryBus;
  /** Moves of the read models' checkpoints, for `GET /events/stream`; present where queries are served. */
  changes?: ReadModelChanges;
  /** Whether the read store is sound, or damaged and being rebuilt from the event log (SQLite, with a projector). */
  readSideState?(): ReadSideState;
  /** True once the read side is up and no projection has failed; false while a damaged read store is rebuilt. */
  ready(): Promise<boolean>;
  /** Stops projecting and closes the stores; acknowledged commands are already durable. */
  close(): Promise<void>;
};

type Parts = {
  write: { eventStore: EventStore; commandBus: CommandBus };
  project: {
    eventStore: EventStore;
    commandBus: CommandBus;
    readStore: ShopReadStore;
    projector: Projector;
    workflows: Workflows;
  };
  read: { queryBus: QueryBus };
  all: {
    eventStore: EventStore;
    commandBus: CommandBus;
    readStore: ShopReadStore;
    projector: Projector;
    queryBus: QueryBus;
    workflows: Workflows;
  };
};

/** The Shop of role `R`, with the parts that role has typed as present. */
export type ShopOf<R extends ShopRole> = Shop & { role: R } & Parts[R];

const ROLES: readonly ShopRole[] = ['all', 'write', 'project', 'read'];

/**
 * Opens (creating if needed) the stores `role` needs and starts its projector. A damaged SQLite read store is set
 * aside and rebuilt from the event log, at open or whenever it is found damaged later; the event store is never touched.
 * With `jetStream`, NATS must answer now (the relay and the consumer then ride out its restarts); a `read` node whose
 * stream does not exist yet waits for its relay to create it.
 * @throws Error for an unknown role, a Redis read store outside `read` with `jetStream`, or a payment timeout or low-stock
 *   threshold that is not a positive integer; STORE_ERROR when a store
 *   or NATS cannot be reached; INVALID_ARGUMENT the stream refuses the relay, or the durable is not one a read node can use
 */
export async function createShop<R extends ShopRole = 'all'>(options: ShopOptions<R>): Promise<ShopOf<R>> {
  const role: ShopRole = options.role ?? 'all';
  if (!ROLES.includes(role)) throw new Error(`unknown Shop role ${role}`);
  // SQLite files, and in development the demo keys, live here whatever the stores.
  mkdirSync(options.dataDir, { recursive: true });
  const readStorePath = options.readStorePath ?? join(options.dataDir, 'read.db');

  if (options.redisReadStore && !(role === 'read' && options.jetStream)) {
    throw new Error('a Redis read store is filled only by a read process fed through JetStream (role read with jetStream)');
  }

  if (role === 'read' && options.jetStream) {
    const { jetStream } = options;
    const side = await openJetStreamReadSide({
      servers: jetStream.servers,
      stream: jetStream.stream ?? DEFAULT_STREAM,
      durable:
        jetStream.durable ??
        readNodeDurable(
          readStoreIdentity({ redisReadStore: options.redisReadStore, readStore: options.readStore, readStorePath }),
        ),
      store: options.redisReadStore
        ? { redis: options.redisReadStore }
        : options.readStore
          ? { postgres: options.readStore, workerId: options.workerId }
          : { path: readStorePath, log: options.log },
      pollIntervalMs: options.pollIntervalMs,
    });
    // minPosition waits on this process's own projector: positions are the event store's, carried in each message.
    const queryBus = createQueryBus({
      middleware: options.middleware,
      waitForPosition: (position, wait) => side.waitForPosition(position, wait),
    });
    side.registerQueries(queryBus);
    const shop: Shop = {
      role,
      ...(side.readStore && { readStore: side.readStore }),
      ...(side.redisReadStore && { redisReadStore: side.redisReadStore }),
      projector: side.projector,
      jetStreamSource: side.source,
      queryBus,
      changes: side.changes,
      readSideState: side.state,
      ready: side.ready,
      close: side.close,
    };
    return shop as ShopOf<R>;
  }

  if (role === 'read') {
    const side = await openQuerySide({
      path: readStorePath,
      postgres: options.readStore,
      pollIntervalMs: options.pollIntervalMs,
    });
    const queryBus = createQueryBus({
      middleware: options.middleware,
      waitForPosition: (position, wait) => side.waits.waitForPosition(position, wait),
    });
    registerQueries(queryBus, side);
    const shop: Shop = { role, readStore: side.readStore, queryBus, changes: side.changes, ready: side.ready, close: side.close };
    return shop as ShopOf<R>;
  }

  const eventStore = openShopEventStore(
    options.eventStore
      ? { postgres: { ...options.eventStore, connectionString: withSearchPath(options.eventStore) } }
      : { path: join(options.dataDir, 'events.db') },
  );
  try {
    // Reached now, so a wrong URL stops startup rather than the first command.
    await eventStore.headPosition();
    // The customers table is the customers' write model: created or brought up to date, and the customer streams of
    // a log written before it moved in (rows already there are left alone, so every start may run it).
    await migrateCustomerTables(eventStore);
    await moveCustomerStreams(eventStore);
  } catch (err) {
    await eventStore.close();
    throw err;
  }
  // Every role on the event store has the command handlers: `write` and `all` for clients, `project` for the
  // commands its workflows send (an expiry, a shipment, an alert), decided and appended like any client's.
  const commandBus = createCommandBus({ middleware: options.middleware });
  let processManagers: ReturnType<typeof shopProcesses>;
  try {
    registerCommands(commandBus, eventStore, {
      maxRetries: options.commandRetries,
      paymentTimeoutMs: options.paymentTimeoutMs,
      customers: customerRowHandler(eventStore, options.commandRetries),
      forgetSubject: (customerId) => eventStore.forget(customerId),
    });
    processManagers = shopProcesses({ lowStockThreshold: options.lowStockThreshold });
  } catch (err) {
    await eventStore.close();
    throw err;
  }
  if (role === 'write') {
    const shop: Shop = { role, eventStore, commandBus, ready: async () => true, close: () => eventStore.close() };
    return shop as ShopOf<R>;
  }

  let workflows: Workflows | undefined;
  const workflowProjections = (readStore: ShopReadStore): readonly Projection<any>[] => {
    const { clock, scheduler } = options;
    workflows = shopWorkflows({ commandBus, eventStore, readStore, processManagers, clock, scheduler });
    return workflows.projections;
  };
  let readSide: ReadSide;
  try {
    const { pollIntervalMs, workerId } = options;
    readSide = options.readStore
      ? await openPostgresReadSide({ eventStore, location: options.readStore, pollIntervalMs, workerId, workflowProjections })
      : await openReadSide({ eventStore, path: readStorePath, pollIntervalMs, workerId, log: options.log, workflowProjections });
  } catch (err) {
    await eventStore.close();
    throw err;
  }
  const { readStore, projector } = readSide;
  // The relay runs where the projector does: one per event store (several `project` workers each run one; they stay
  // correct on one stream, each duplicate or refusal costing a resync). Its checkpoint lives beside the log it counts in.
  let relay: ShopRelay | undefined;
  if (options.jetStream) {
    const { jetStream } = options;
    try {
      relay = await openShopRelay({
        servers: jetStream.servers,
        name: `shop-${role}`,
        eventStore,
        checkpoint: options.eventStore ? { postgres: options.eventStore } : { path: join(options.dataDir, 'events.db') },
        stream: jetStream.stream ?? DEFAULT_STREAM,
        subjectPrefix: jetStream.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX,
        pollIntervalMs: options.pollIntervalMs,
      });
    } catch (err) {
      await readSide.close();
      await eventStore.close();
      throw err;
    }
  }
  let queryBus: QueryBus | undefined;
  let changes: ReadModelChanges | undefined;
  if (role === 'all') {
    changes = projectorChanges(projector);
    queryBus = createQueryBus({
      middleware: options.middleware,
      waitForPosition: (position, wait) => projector.waitForPosition(position, wait),
    });
    registerQueries(queryBus, readSide);
  }
  const shop: Shop = {
    role,
    eventStore,
    commandBus,
    workflows,
    readStore,
    projector,
    ...(relay && { relay: relay.relay }),
    queryBus,
    changes,
    readSideState: readSide.state,
    ready: readSide.ready,
    async close() {
      // The relay first: it reads the event store, and saves its checkpoint as it stops.
      await relay?.close();
      await readSide.close();
      await eventStore.close();
    },
  };
  return shop as ShopOf<R>;
}

// #region workflows
/**
 * The Shop's workflows: the fulfilment and restock-alerts process managers and the scheduler, each a projection over
 * the read store that the projector runs beside the read models (so they get checkpoints, status, failure handling and,
 * on PostgreSQL, one worker at a time through the leases). They send commands through the Shop's own command bus as
 * `{ id: 'chronicle-workflows', roles: ['system'] }`, which the workflows' commands admit and no credential carries.
 */
function shopWorkflows(options: {
  commandBus: CommandBus;
  eventStore: EventStore;
  readStore: ShopReadStore;
  processManagers: readonly ProcessManager<any>[];
  clock?: Clock;
  scheduler?: SchedulerOptions;
}): Workflows {
  const { commandBus, eventStore, readStore, processManagers, clock, scheduler } = options;
  return createWorkflows({ commandBus, eventStore, readStore, processManagers, clock, scheduler });
}
// #endregion workflows

// The write tables live in the store's schema: its connections resolve unqualified names there first (and keep JIT
// off, as the store's own pool does).
function withSearchPath(location: PostgresLocation): string {
  const url = new URL(location.connectionString);
  url.searchParams.set('options', `-c search_path="${location.schema}",public -c jit=off`);
  return url.toString();
}
