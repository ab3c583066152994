// The Shop assembled: event store, read store, projector and both buses, without any HTTP.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CommandBus,
  createCommandBus,
  createQueryBus,
  type EventStore,
  type Middleware,
  type Projector,
  type QueryBus,
} from 'chronicle-es';
import { createSqliteEventStore, type SqliteReadStore } from 'chronicle-es/sqlite';
import { registerCommands } from './commands.js';
import { registerQueries } from './queries.js';
import { openReadSide, type ReadSideLog, type ReadSideState } from './read-side.js';

export type ShopOptions = {
  /** Holds `events.db` (the write side) and, unless `readStorePath` says otherwise, `read.db`. */
  dataDir: string;
  /** Separate read-store file, e.g. one per read process when the read side is scaled out. */
  readStorePath?: string;
  /** `write` runs no projector and serves no queries; `read` sends no commands. Default `all`. */
  role?: 'all' | 'write' | 'read';
  /** Run around every command and query dispatch (logging, tracing). */
  middleware?: readonly Middleware[];
  /** How often the projector looks for events written by another process, in ms. Default 200. */
  pollIntervalMs?: number;
  /** Where the read side reports a damaged read store and its rebuild. */
  log?: ReadSideLog;
};

export type Shop = {
  eventStore: EventStore;
  commandBus: CommandBus;
  /** Absent when `role` is `write`. */
  readStore?: SqliteReadStore;
  projector?: Projector;
  queryBus?: QueryBus;
  /** Whether the read store is sound, or damaged and being rebuilt from the event log; absent when `role` is `write`. */
  readSideState?(): ReadSideState;
  /** True once the read side is up and no projection has failed; false while a damaged read store is rebuilt. */
  ready(): Promise<boolean>;
  /** Stops projecting and closes both stores; acknowledged commands are already durable. */
  close(): Promise<void>;
};

/**
 * Opens (creating if needed) the Shop's stores under `dataDir` and starts its projector. A damaged read store is set
 * aside and rebuilt from the event log, at open or whenever it is found damaged later; the event store is never touched.
 */
export async function createShop(options: ShopOptions): Promise<Shop> {
  const role = options.role ?? 'all';
  mkdirSync(options.dataDir, { recursive: true });
  const eventStore = createSqliteEventStore({ path: join(options.dataDir, 'events.db') });
  const commandBus = createCommandBus({ middleware: options.middleware });
  registerCommands(commandBus, eventStore);
  if (role === 'write') {
    return { eventStore, commandBus, ready: async () => true, close: () => eventStore.close() };
  }

  const readSide = await openReadSide({
    eventStore,
    path: options.readStorePath ?? join(options.dataDir, 'read.db'),
    pollIntervalMs: options.pollIntervalMs,
    log: options.log,
  });
  const { readStore, projector } = readSide;
  const queryBus = createQueryBus({
    middleware: options.middleware,
    waitForPosition: (position, wait) => projector.waitForPosition(position, wait),
  });
  registerQueries(queryBus, readSide);

  return {
    eventStore,
    commandBus,
    readStore,
    projector,
    queryBus,
    readSideState: readSide.state,
    ready: readSide.ready,
    async close() {
      await readSide.close();
      await eventStore.close();
    },
  };
}
