// What the console is given: the stores and runtimes it shows, who may see it and act in it.
import type { CommandBus, EventStore, Projector, QueryBus } from 'chronicle-es';

/** Options of the web console (`console` of chronicleHttp). */
export type ConsoleOptions = {
  /** The event store it inspects (one of the shipped stores, or any with `inspector()`). */
  eventStore: EventStore;
  /** The projector whose projections (and process managers) it shows and operates. */
  projector?: Projector;
  /** Names of the projector's projections that are process managers or the scheduler (shown as such). */
  processManagers?: readonly string[];
  /** Commands the Messages page sends; default the plugin's `commandBus`. */
  commandBus?: CommandBus;
  /** Queries the Messages page runs; default the plugin's `queryBus`. */
  queryBus?: QueryBus;
  /** Whether it is served. Default: unless NODE_ENV is `production` (there it is opt-in). */
  enabled?: boolean;
  /** Roles that may sign in and browse. Default `['admin', 'reader']`. */
  viewRoles?: readonly string[];
  /** Roles that may rebuild, retry and skip projections. Default `['admin']`. */
  adminRoles?: readonly string[];
  /** Secret of the CSRF tokens; give the same one to every process behind one address. Default: random per process. */
  csrfSecret?: string;
  /** Shown in the header. Default `Chronicle console`. */
  title?: string;
  /** Interval of the live overview's updates, in ms. Default 2000. */
  liveIntervalMs?: number;
};

/** Whether the console is served under `options` (see `enabled`). */
export function consoleEnabled(options: ConsoleOptions | false | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!options) return false;
  return options.enabled ?? env.NODE_ENV !== 'production';
}
