// The Shop's read side: a SQLite read store and the projector filling it. The store is disposable: when its file is
// found damaged (by the quick check at open, or by any statement later) it is set aside as read.db.corrupt-<time>
// and rebuilt from the event log, while the queries it serves answer 503 until their projection has caught up.
import {
  ChronicleError,
  createProjector,
  type EventSource,
  isChronicleError,
  type Projection,
  type Projector,
  type SqlReader,
  type SqlValue,
} from 'chronicle-es';
import { createSqliteReadStore, type SqliteReadStore, setAsideFile } from 'chronicle-es/sqlite';
import type { ShopReadStore } from './app.js';
import { projections } from './projections/index.js';

/** Where the read side reports damage and rebuilds (pino-compatible). */
export type ReadSideLog = {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export type ReadSideOptions = {
  /** The event store, or a reader of its log elsewhere (a JetStream source): rebuilds read it from the start. */
  eventStore: EventSource;
  /** The read store's file. */
  path: string;
  pollIntervalMs?: number;
  /** The projector's worker id; a SQLite store keeps no leases, so it only names this process. */
  workerId?: string;
  log?: ReadSideLog;
  /**
   * More projections for the projector, made over the read store once it is open: the workflows' (process managers
   * and the scheduler), which keep their state there. They serve no query, so a rebuild waits only for the read models.
   */
  workflowProjections?: (readStore: ShopReadStore) => readonly Projection<any>[];
};

/** `sound`; `damaged` (seen, not yet set aside); `rebuilding` (a fresh file catching up from 0). */
export type ReadSideState = 'sound' | 'damaged' | 'rebuilding';

export type ReadSide = {
  readStore: ShopReadStore;
  projector: Projector;
  /** What query handlers read a projection with; refuses (READ_STORE_CORRUPT) while that projection is not back. */
  reader(projection: string): SqlReader;
  state(): ReadSideState;
  /** False while damaged or rebuilding, or when a projection has failed. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
};

// How long to wait before looking again at a projection that failed during a rebuild (an operator may retry it).
const FAILED_RECHECK_MS = 1000;

/**
 * Opens the read store (setting a damaged file aside first) and starts its projector.
 * @throws STORE_ERROR when the file cannot be opened for another reason
 */
export async function openReadSide(options: ReadSideOptions): Promise<ReadSide> {
  const { eventStore, path, log } = options;
  let state: ReadSideState = 'sound';
  let closing = false;
  // Bumped by every rebuild (and close), so the watches of an earlier one stop counting.
  let epoch = 0;
  let target = 0;
  const back = new Set<string>();
  let recovery: Promise<void> = Promise.resolve();

  const onCorrupt = (err: ChronicleError) => {
    // Called inside the failing statement: only note it here and schedule the rebuild.
    if (closing || state === 'damaged') return;
    state = 'damaged';
    log?.error({ err: summary(err), path }, 'read store damaged; setting it aside and rebuilding from the event log');
    recovery = recovery.then(rebuild).catch((error: unknown) => {
      log?.error(
        { err: summary(error), path },
        'could not rebuild the read store; stop the Shop, then run `npm run rebuild-read-store`',
      );
    });
  };

  let readStore: SqliteReadStore;
  let damagedAtOpen = false;
  try {
    readStore = createSqliteReadStore({ path, onCorrupt, secureDelete: true });
  } catch (err) {
    if (!isChronicleError(err, 'READ_STORE_CORRUPT')) throw err;
    const movedTo = setAsideFile(path, 'corrupt');
    log?.error({ err: summary(err), path, movedTo }, 'read store damaged; set aside, rebuilding it from the event log');
    readStore = createSqliteReadStore({ path, onCorrupt, secureDelete: true });
    damagedAtOpen = true;
  }
  const store = readStore;
  let projector: Projector;
  try {
    projector = createProjector({
      eventStore,
      readStore: store,
      projections: [...projections, ...(options.workflowProjections?.(store) ?? [])],
      pollIntervalMs: options.pollIntervalMs,
    });
  } catch (err) {
    await store.close();
    throw err;
  }

  async function rebuild(): Promise<void> {
    if (closing) return;
    await projector.stop();
    const movedTo = await store.setAside('corrupt');
    log?.warn({ path, movedTo }, 'damaged read store set aside; rebuilding from the event log');
    await startRebuilding();
  }

  // Every projection starts over from 0 on the fresh file; each serves again once it reaches the head of now.
  async function startRebuilding(): Promise<void> {
    const mine = ++epoch;
    target = await eventStore.headPosition();
    back.clear();
    state = 'rebuilding';
    await projector.start();
    for (const { name } of projections) void watch(name, mine);
  }

  async function watch(name: string, mine: number): Promise<void> {
    while (mine === epoch && !closing) {
      try {
        await projector.waitForPosition(target, { projections: [name], timeoutMs: 60_000 });
        break;
      } catch (err) {
        // Stopped: closing, or damaged again and a newer rebuild took over.
        if (isChronicleError(err, 'CLOSED')) return;
        // Failed (status says why) rather than slow: look again later.
        if (!isChronicleError(err, 'TIMEOUT')) await new Promise((r) => setTimeout(r, FAILED_RECHECK_MS).unref());
      }
    }
    if (mine !== epoch || closing || state !== 'rebuilding') return;
    back.add(name);
    if (back.size < projections.length) return;
    state = 'sound';
    log?.info({ path, position: target }, 'read store rebuilt from the event log');
  }

  if (damagedAtOpen) await startRebuilding();
  else await projector.start();

  const serves = (projection: string) => state === 'sound' || (state === 'rebuilding' && back.has(projection));
  const unavailable = (projection: string) =>
    new ChronicleError(
      'READ_STORE_CORRUPT',
      `the read store is being rebuilt from the event log; ${projection} is not back yet`,
      {
        details: { projection },
      },
    );

  return {
    readStore: store,
    projector,
    reader(projection): SqlReader {
      const inner = store.reader(projection);
      const check = () => {
        if (!serves(projection)) throw unavailable(projection);
      };
      return {
        dialect: 'sqlite',
        get<T>(sql: string, params?: readonly SqlValue[]) {
          check();
          return inner.get<T>(sql, params);
        },
        all<T>(sql: string, params?: readonly SqlValue[]) {
          check();
          return inner.all<T>(sql, params);
        },
        table(name) {
          check();
          return inner.table(name);
        },
      };
    },
    state: () => state,
    async ready() {
      if (state !== 'sound') return false;
      const status = await projector.status();
      return status.every((p) => p.state === 'live' || p.state === 'catching_up' || p.state === 'rebuilding');
    },
    async close() {
      closing = true;
      epoch++;
      await recovery;
      await projector.stop();
      await store.close();
    },
  };
}

const summary = (err: unknown) =>
  err instanceof Error ? { message: err.message, code: (err as { code?: unknown }).code } : { message: String(err) };
