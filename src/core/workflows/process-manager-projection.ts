// A process manager as a projection: a batch's steps run in order against the states of their keys, then the
// commands, schedules and cancellations they asked for go out — concurrently across keys, in order within one — all
// inside the batch's transaction and before its checkpoint commits. Every one carries a key derived from its event,
// so a crash before the commit replays the batch and sends nothing twice in effect.
import type { Command } from '../command-handler.js';
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import type { Projection } from '../projections/define-projection.js';
import { HandlerFailure } from '../projections/run-handlers.js';
import type { ProcessManager } from './define-process-manager.js';
import { isRefusal, runChains, withRetry } from './process-dispatch.js';
import { recordRefusal } from './process-refusal.js';
import { processStateTable, setupProcessState } from './process-state.js';
import { assertScheduledCommand, assertScheduleKey, resolveAfter, type ScheduledCommand } from './schedule-events.js';
import type { ScheduleWriter } from './scheduler.js';
import type { ProcessContext, ProcessStep, Refusal, WorkflowDeps } from './workflow-types.js';

/** How deep refusals of commands sent by `onRefused` itself are handed to it again before they are only recorded. */
export const MAX_REFUSAL_ROUNDS = 3;

// One thing a step asked for, tagged with what its idempotency key is made of.
type Task =
  | { kind: 'send'; command: Command; tag: string; index: number }
  | { kind: 'schedule'; scheduled: ScheduledCommand; tag: string }
  | { kind: 'cancel'; key: string; tag: string };

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') &&
  value !== null &&
  typeof (value as { then?: unknown }).then === 'function';

/**
 * The projection that runs `pm`: its steps, its state and its sent commands, checkpointed together. Its state table
 * needs a read store with tables: SQLite, PostgreSQL, in-memory or Redis. On PostgreSQL a batch holds its transaction
 * open while its commands go out, so keep `pm.retry`'s total wait under the read store's idleInTransactionTimeoutMs.
 * A batch stops (HandlerFailure, so the projection fails on that event) at the first event whose step threw, asked
 * for something malformed (INVALID_ARGUMENT), or whose command, schedule or cancellation still failed after the retries.
 */
export function processManagerProjection(
  pm: ProcessManager<any>,
  deps: WorkflowDeps,
  schedules: ScheduleWriter,
): Projection<any> {
  const what = `process manager ${pm.name}`;
  const invalid = (message: string) => new ChronicleError('INVALID_ARGUMENT', `${what}: ${message}`);

  // A step's requests, checked, in the order they go out: cancellations, schedules, then commands. `base` prefixes
  // the tags of a step run for a refusal, so its keys differ from the triggering step's.
  function tasksOf(step: ProcessStep<unknown>, now: number, base: string): Task[] {
    const tasks: Task[] = [];
    const list = <T>(field: 'send' | 'schedule' | 'cancel'): readonly T[] => {
      const value = step[field];
      if (value === undefined) return [];
      if (!Array.isArray(value)) throw invalid(`a step's ${field} must be an array`);
      return value as readonly T[];
    };
    list<string>('cancel').forEach((key, j) => {
      assertScheduleKey(key);
      tasks.push({ kind: 'cancel', key, tag: `${base}c${j}` });
    });
    list<ScheduledCommand>('schedule').forEach((s, j) => {
      assertScheduledCommand(s);
      tasks.push({ kind: 'schedule', scheduled: resolveAfter(s, now), tag: `${base}s${j}` });
    });
    list<Command>('send').forEach((command, j) => {
      if (typeof command !== 'object' || command === null || typeof command.type !== 'string' || command.type === '') {
        throw invalid('a step sends commands of the form { type, data } (see command())');
      }
      tasks.push({ kind: 'send', command: { type: command.type, data: command.data }, tag: `${base}${j}`, index: j });
    });
    return tasks;
  }

  function encodeState(state: unknown): string | null {
    if (state === null) return null;
    let json: string | undefined;
    try {
      json = JSON.stringify(state);
    } catch (err) {
      throw new ChronicleError('INVALID_ARGUMENT', `${what}: its state cannot be written as JSON`, { cause: err });
    }
    if (json === undefined) throw invalid(`its state has no JSON form (${typeof state})`);
    return json;
  }

  async function runBatch(events: readonly RecordedEvent[], tx: unknown): Promise<void> {
    const table = processStateTable(tx, pm.name);
    const keys = events.map((event, i) => {
      try {
        const key = pm.correlate(event);
        if (key !== undefined && (typeof key !== 'string' || key === '')) {
          throw invalid(`correlate must return a non-empty string or undefined, got ${JSON.stringify(key)}`);
        }
        return key;
      } catch (err) {
        throw new HandlerFailure(i, err);
      }
    });
    // The states of the batch's keys as JSON, loaded once and kept current; a handler gets its own parsed copy, so
    // changing it in place changes nothing unless returned.
    const states = await table.load([...new Set(keys.filter((k): k is string => k !== undefined))]);
    const changed = new Map<string, string | null>();
    const contextOf = (key: string): ProcessContext<unknown> => {
      const json = states.get(key);
      return { key, state: json === undefined ? undefined : JSON.parse(json), now: deps.clock() };
    };
    // Applies a step's state and returns what it asks for. @throws INVALID_ARGUMENT a malformed step
    const accept = (key: string, step: unknown, now: number, base: string): Task[] => {
      if (step === undefined) return [];
      if (typeof step !== 'object' || step === null) throw invalid('a step must be an object or undefined');
      const { state } = step as ProcessStep<unknown>;
      const tasks = tasksOf(step as ProcessStep<unknown>, now, base);
      if (state !== undefined) {
        const json = encodeState(state);
        if (json === null) states.delete(key);
        else states.set(key, json);
        changed.set(key, json);
      }
      return tasks;
    };

    // Each key's requests, in event order: a chain, sent in order (a process's commands may depend on each other).
    const chains = new Map<string, { event: RecordedEvent; index: number; tasks: Task[] }[]>();
    for (let i = 0; i < events.length; i++) {
      const key = keys[i];
      if (key === undefined) continue;
      const event = events[i];
      try {
        const context = contextOf(key);
        let step: unknown = pm.handlers[event.type](event, context);
        if (isThenable(step)) step = await step;
        const tasks = accept(key, step, context.now, '');
        if (tasks.length === 0) continue;
        const chain = chains.get(key);
        if (chain) chain.push({ event, index: i, tasks });
        else chains.set(key, [{ event, index: i, tasks }]);
      } catch (err) {
        throw err instanceof HandlerFailure ? err : new HandlerFailure(i, err);
      }
    }

    const run = async (key: string, event: RecordedEvent, tasks: readonly Task[], round: number): Promise<void> => {
      const trigger = {
        correlationId: event.metadata.correlationId ?? event.id,
        causationId: event.id,
      };
      for (const task of tasks) {
        const idempotencyKey = `${pm.name}:${event.id}:${task.tag}`;
        if (task.kind === 'cancel') {
          await withRetry(pm.retry, () => schedules.cancel(task.key, idempotencyKey));
          continue;
        }
        if (task.kind === 'schedule') {
          await withRetry(pm.retry, () => schedules.schedule(task.scheduled, idempotencyKey));
          continue;
        }
        const { command } = task;
        try {
          await withRetry(pm.retry, () =>
            deps.commandBus.dispatch(command.type, command.data, { ...trigger, idempotencyKey, principal: deps.principal }),
          );
        } catch (err) {
          if (!isRefusal(err)) throw err;
          const refusal: Refusal = { command, code: err.code, message: err.message, event, index: task.index };
          await withRetry(pm.retry, () =>
            recordRefusal(
              deps.eventStore,
              {
                process: pm.name,
                key,
                command,
                idempotencyKey,
                code: refusal.code,
                message: refusal.message,
                event: { id: event.id, type: event.type, streamId: event.streamId, position: event.position },
              },
              event,
            ),
          );
          if (!pm.onRefused || round >= MAX_REFUSAL_ROUNDS) continue;
          const context = contextOf(key);
          let step: unknown = pm.onRefused(refusal, context);
          if (isThenable(step)) step = await step;
          const base = task.tag.startsWith('r') ? `${task.tag}.` : `r${task.tag}.`;
          await run(key, event, accept(key, step, context.now, base), round + 1);
        }
      }
    };

    const failures = await runChains(
      [...chains.entries()].map(([key, chain]) => async () => {
        for (const { event, index, tasks } of chain) {
          try {
            await run(key, event, tasks, 0);
          } catch (err) {
            throw new HandlerFailure(index, err);
          }
        }
      }),
    );
    if (failures.length > 0) {
      // The earliest event that could not be carried out is the one the projection stops on.
      throw (failures as HandlerFailure[]).reduce((first, f) => (f.index < first.index ? f : first));
    }
    await table.save(changed);
  }

  // One event alone is a batch of one: the same path as runBatch, for callers that apply handlers one by one.
  const single = (event: RecordedEvent, tx: unknown) =>
    Promise.resolve(runBatch([event], tx)).catch((err: unknown) => {
      throw err instanceof HandlerFailure ? err.error : err;
    });
  return Object.freeze({
    name: pm.name,
    version: pm.version,
    setup: (tx: unknown) => setupProcessState(tx, pm.name),
    handlers: Object.freeze(Object.fromEntries(pm.eventTypes.map((type) => [type, single]))),
    eventTypes: pm.eventTypes,
    firstRun: pm.firstRun,
    runBatch,
  });
}
