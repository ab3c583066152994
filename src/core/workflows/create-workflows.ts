// The workflows runtime: process managers and the scheduler as projections (so they are checkpointed, leased and
// reported like any), and the calls application code schedules and cancels with.
import type { CommandBus } from '../command-bus.js';
import { ChronicleError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import type { CommandDefinition, InputOf, Principal } from '../messages.js';
import type { Projection } from '../projections/define-projection.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import type { ProcessManager } from './define-process-manager.js';
import { processManagerProjection } from './process-manager-projection.js';
import { type ScheduleOptions, schedule as scheduled } from './schedule-events.js';
import {
  createScheduler,
  createScheduleWriter,
  readScheduleStatus,
  type ScheduleReceipt,
  type SchedulerOptions,
  type ScheduleStatus,
  type ScheduleWriter,
} from './scheduler.js';
import type { Clock, WorkflowDeps } from './workflow-types.js';

export type WorkflowsOptions = {
  commandBus: CommandBus;
  eventStore: EventStore;
  /** Where the scheduler and the process managers keep their state: the read store the projector runs on. */
  readStore: ProjectionStore<any, any>;
  processManagers?: readonly ProcessManager<any>[];
  /**
   * The scheduler's settings; `false` leaves firing to another process (schedules are still written here, and status
   * reads the queue from `readStore` when it keeps one; a read store that cannot, such as Redis, needs `false`).
   */
  scheduler?: SchedulerOptions | false;
  /** Default Date.now. */
  clock?: Clock;
  /** Who workflows send commands as (policies see it). Default `{ id: 'chronicle-workflows', roles: ['system'] }`. */
  principal?: Principal;
};

export type WorkflowsStatus = { schedules: ScheduleStatus };

export interface Workflows {
  /** The scheduler's and every process manager's projection: give them to `createProjector` with the others. */
  readonly projections: readonly Projection<any>[];
  /**
   * Schedules `definition` with `payload` at `options.at` or `options.after` ms from now (the clock's); the same key
   * again replaces a pending schedule. @throws INVALID_ARGUMENT bad key or time; STORE_ERROR
   */
  schedule<D extends CommandDefinition>(definition: D, payload: InputOf<D>, options: ScheduleOptions): Promise<ScheduleReceipt>;
  /** Cancels the schedule under `key`; false when none is pending. @throws INVALID_ARGUMENT, STORE_ERROR */
  cancel(key: string): Promise<boolean>;
  /** Pending and overdue schedules. @throws STORE_ERROR; INVALID_ARGUMENT with `scheduler: false` on a read store without the queue */
  status(): Promise<WorkflowsStatus>;
  /** Fires what is due now on this worker (tests with a hand-moved clock); resolves with how many fired. */
  fireDue(): Promise<number>;
}

const SYSTEM: Principal = Object.freeze({ id: 'chronicle-workflows', roles: Object.freeze(['system']) });

/** Creates the workflows runtime. @throws INVALID_ARGUMENT bad options, or two process managers with one name */
export function createWorkflows(options: WorkflowsOptions): Workflows {
  const { commandBus, eventStore, readStore } = options;
  if (!commandBus || !eventStore || !readStore) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createWorkflows needs commandBus, eventStore and readStore');
  }
  const deps: WorkflowDeps = { commandBus, eventStore, clock: options.clock ?? Date.now, principal: options.principal ?? SYSTEM };
  const scheduler = options.scheduler === false ? undefined : createScheduler(deps, readStore, options.scheduler);
  const writer: ScheduleWriter = scheduler ?? createScheduleWriter(deps);
  const names = new Set<string>();
  const projections: Projection<any>[] = scheduler ? [scheduler.projection] : [];
  for (const pm of options.processManagers ?? []) {
    if (names.has(pm.name)) throw new ChronicleError('INVALID_ARGUMENT', `process manager ${pm.name} is registered twice`);
    names.add(pm.name);
    projections.push(processManagerProjection(pm, deps, writer));
  }
  return {
    projections: Object.freeze(projections),
    // Async so that a bad key or time rejects, as every failure of these calls does.
    schedule: async (definition, payload, scheduleOptions) => writer.schedule(scheduled(definition, payload, scheduleOptions)),
    cancel: (key) => writer.cancel(key),
    async status() {
      return { schedules: scheduler ? await scheduler.status() : await readScheduleStatus(readStore, deps.clock) };
    },
    fireDue: async () => (scheduler ? scheduler.fireDue() : 0),
  };
}
