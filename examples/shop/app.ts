// The Shop assembled: event store, read store, projector and both buses, without any HTTP.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CommandBus,
  createCommandBus,
  createProjector,
  createQueryBus,
  type EventStore,
  type Middleware,
  type Projector,
  type QueryBus,
} from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadStore } from 'chronicle-es/sqlite';
import { registerCommands } from './commands.js';
import { projections } from './projections/index.js';
import { registerQueries } from './queries.js';

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
};

export type Shop = {
  eventStore: EventStore;
  commandBus: CommandBus;
  /** Absent when `role` is `write`. */
  readStore?: SqliteReadStore;
  projector?: Projector;
  queryBus?: QueryBus;
  /** True once the read side is up and no projection has failed. */
  ready(): Promise<boolean>;
  /** Stops projecting and closes both stores; acknowledged commands are already durable. */
  close(): Promise<void>;
};

/** Opens (creating if needed) the Shop's stores under `dataDir` and starts its projector. */
export async function createShop(options: ShopOptions): Promise<Shop> {
  const role = options.role ?? 'all';
  mkdirSync(options.dataDir, { recursive: true });
  const eventStore = createSqliteEventStore({ path: join(options.dataDir, 'events.db') });
  const commandBus = createCommandBus({ middleware: options.middleware });
  registerCommands(commandBus, eventStore);
  if (role === 'write') {
    return { eventStore, commandBus, ready: async () => true, close: () => eventStore.close() };
  }

  const readStore = createSqliteReadStore({ path: options.readStorePath ?? join(options.dataDir, 'read.db') });
  const projector = createProjector({ eventStore, readStore, projections, pollIntervalMs: options.pollIntervalMs });
  const queryBus = createQueryBus({
    middleware: options.middleware,
    waitForPosition: (position, wait) => projector.waitForPosition(position, wait),
  });
  registerQueries(queryBus, readStore);
  await projector.start();

  return {
    eventStore,
    commandBus,
    readStore,
    projector,
    queryBus,
    async ready() {
      const status = await projector.status();
      return status.every((p) => p.state === 'live' || p.state === 'catching_up' || p.state === 'rebuilding');
    },
    async close() {
      await projector.stop();
      await readStore.close();
      await eventStore.close();
    },
  };
}
