// The console's runtime state: what it reads from, the rebuilds it started, and the lag history the chart draws.
import type {
  CategoryStats,
  CommandBus,
  EventStore,
  ProjectionStatus,
  Projector,
  QueryBus,
  StoreInspector,
  WriteRate,
} from 'chronicle-es';

/** A rebuild started from the console: running until the projector's promise settles, then its outcome. */
export type ConsoleRebuild = { running: boolean; error?: string };

export type ConsoleDeps = {
  inspector: StoreInspector;
  eventStore: EventStore;
  projector?: Projector;
  processManagers: ReadonlySet<string>;
  commandBus?: CommandBus;
  queryBus?: QueryBus;
  viewRoles: readonly string[];
  adminRoles: readonly string[];
  rebuilds: Map<string, ConsoleRebuild>;
  liveIntervalMs: number;
  /** The overview's numbers, taken at most once a second however many pages and streams ask. */
  overview(): Promise<OverviewData>;
  /** The categories, taken at most once every few seconds (a scan of the log's indexes). */
  categories(): Promise<CategoryStats[]>;
};

export type OverviewData = {
  stats: { events: number; streams: number; headPosition: number };
  rate: WriteRate;
  projections: ProjectionStatus[];
  /** Total projection lag in events, one sample per refresh, oldest first. */
  lagHistory: number[];
};

const RATE_WINDOW_MS = 10 * 60_000;
const RATE_BUCKET_MS = 20_000;
const LAG_SAMPLES = 60;
const FRESH_MS = 1000;

/** `read`, answered from its last result for `freshMs` (a failed read is not kept: the next call reads again). */
export function cached<T>(read: () => Promise<T>, freshMs: number): () => Promise<T> {
  let last: { at: number; data: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || now - last.at >= freshMs) {
      const data = read();
      last = { at: now, data };
      data.catch(() => {
        if (last?.data === data) last = undefined;
      });
    }
    return last.data;
  };
}

/** The overview's source: inspector totals, write rate over ten minutes, projector status, sampled lag. */
export function overviewSource(inspector: StoreInspector, projector: Projector | undefined): () => Promise<OverviewData> {
  const lagHistory: number[] = [];
  const take = async (): Promise<OverviewData> => {
    const [stats, rate, projections] = await Promise.all([
      inspector.stats(),
      inspector.writeRate({ windowMs: RATE_WINDOW_MS, bucketMs: RATE_BUCKET_MS }),
      projector ? projector.status() : Promise.resolve([]),
    ]);
    lagHistory.push(projections.reduce((sum, p) => sum + p.lagEvents, 0));
    if (lagHistory.length > LAG_SAMPLES) lagHistory.shift();
    return { stats, rate, projections, lagHistory: [...lagHistory] };
  };
  return cached(take, FRESH_MS);
}
