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
import { SCHEDULER_PROJECTION } from './schedule-table.js';
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
   * again replaces a pending schedule, unless its firing has already begun (see `cancel`: then both may fire).
   * @throws INVALID_ARGUMENT bad key or time; VALIDATION_FAILED bad payload; UNKNOWN_MESSAGE a command the bus does not
   * know; STORE_ERROR
   */
  schedule<D extends CommandDefinition>(definition: D, payload: InputOf<D>, options: ScheduleOptions): Promise<ScheduleReceipt>;
  /**
   * Cancels the schedule under `key`; false when none is pending. A cancel that races the firing of the schedule
   * (the firing confirmed it as pending just before) is acknowledged while the command is still sent: a command that
   * must not take effect after a cancel checks its own state (e.g. ExpireOrder does nothing to a paid order).
   * @throws INVALID_ARGUMENT bad key; CONCURRENCY_CONFLICT lost the race to other writers of the schedule 10 times;
   * STORE_ERROR
   */
  cancel(key: string): Promise<boolean>;
  /** Pending and overdue schedules. @throws STORE_ERROR; INVALID_ARGUMENT with `scheduler: false` on a read store without the queue */
  status(): Promise<WorkflowsStatus>;
  /**
   * Fires what is due now on this worker (tests with a hand-moved clock); resolves with how many this call fired, 0
   * where the scheduler's projection does not run (the loop may have fired some already: assert effects, not this).
   * @throws STORE_ERROR reading the due schedules
   */
  fireDue(): Promise<number>;
}

const SYSTEM: Principal = Object.freeze({ id: 'chronicle-workflows', roles: Object.freeze(['system']) });

/**
 * Creates the workflows runtime.
 * @throws INVALID_ARGUMENT bad options (stores, bus, clock, principal, scheduler settings, a process manager not made
 *   by defineProcessManager), two process managers with one name, or one named as the scheduler
 */
export function createWorkflows(options: WorkflowsOptions): Workflows {
  const deps = depsOf(options);
  const { readStore } = options;
  const scheduler = options.scheduler === false ? undefined : createScheduler(deps, readStore, options.scheduler);
  const writer: ScheduleWriter = scheduler ?? createScheduleWriter(deps);
  const projections: Projection<any>[] = scheduler ? [scheduler.projection] : [];
  for (const pm of processManagersOf(options)) projections.push(processManagerProjection(pm, deps, writer));
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

const invalid = (why: string) => new ChronicleError('INVALID_ARGUMENT', `createWorkflows: ${why}`);

// Checked whether or not this process fires: the writes and the process managers use every one of them.
function depsOf(options: WorkflowsOptions): WorkflowDeps {
  if (typeof options !== 'object' || options === null) throw invalid('needs options { commandBus, eventStore, readStore }');
  const { commandBus, eventStore, readStore } = options;
  if (typeof commandBus?.dispatch !== 'function' || typeof commandBus.definition !== 'function') {
    throw invalid('commandBus must be a command bus (createCommandBus)');
  }
  if (typeof eventStore?.append !== 'function' || typeof eventStore.readStream !== 'function') {
    throw invalid('eventStore must be an event store');
  }
  if (typeof readStore?.reader !== 'function') throw invalid('readStore must be the read store the projector runs on');
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw invalid('clock must be a function returning epoch ms');
  const principal = options.principal ?? SYSTEM;
  if (
    typeof principal !== 'object' ||
    principal === null ||
    typeof principal.id !== 'string' ||
    principal.id === '' ||
    !Array.isArray(principal.roles) ||
    !principal.roles.every((role) => typeof role === 'string')
  ) {
    throw invalid('principal must be { id: a non-empty string, roles: string[] }');
  }
  return { commandBus, eventStore, clock, principal };
}

function processManagersOf(options: WorkflowsOptions): readonly ProcessManager<any>[] {
  const list = options.processManagers ?? [];
  if (!Array.isArray(list)) throw invalid('processManagers must be an array');
  const names = new Set<string>([SCHEDULER_PROJECTION]);
  for (const pm of list as readonly unknown[]) {
    const candidate = pm as Partial<ProcessManager<unknown>> | null | undefined;
    if (candidate?.kind !== 'process-manager') {
      throw invalid(`each process manager must come from defineProcessManager, got ${named(pm)}`);
    }
    if (candidate.name === SCHEDULER_PROJECTION) {
      throw invalid(`a process manager may not be named ${SCHEDULER_PROJECTION}: the scheduler's projection is`);
    }
    if (names.has(candidate.name as string)) throw invalid(`process manager ${candidate.name} is registered twice`);
    names.add(candidate.name as string);
  }
  return list;
}

function named(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const name = (value as { name?: unknown }).name;
  return typeof name === 'string' ? `${name} (not a process manager)` : 'an object that is not one';
}
