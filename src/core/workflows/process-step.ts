// What a process manager's step returned, checked once for the runtime and for processManagerSpec alike: the event's
// correlation key, the step's shape, its requests in the order they go out, and its state as the JSON it is stored as.
import type { Command } from '../command-handler.js';
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import type { ProcessManager } from './define-process-manager.js';
import { assertScheduledCommand, assertScheduleKey, resolveAfter, type ScheduledCommand } from './schedule-events.js';
import type { ProcessStep } from './workflow-types.js';

/** How deep refusals of commands sent by `onRefused` itself are handed to it again before they are only recorded. */
export const MAX_REFUSAL_ROUNDS = 3;

/** One request of a step, with the tag its idempotency key (`<process>:<event id>:<tag>`) ends in. */
export type ProcessTask =
  | { kind: 'send'; command: Command; tag: string; index: number }
  | { kind: 'schedule'; scheduled: ScheduledCommand; tag: string }
  | { kind: 'cancel'; key: string; tag: string };

/** A checked step: its state as stored (undefined leaves it, null ends the process) and its requests in order. */
export type CheckedProcessStep = { state: string | null | undefined; tasks: ProcessTask[] };

export const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') &&
  value !== null &&
  typeof (value as { then?: unknown }).then === 'function';

/**
 * The correlation key `pm` gives `event`; undefined when it skips the event.
 * @throws INVALID_ARGUMENT correlate returned something other than a non-empty string or undefined; whatever it throws
 */
export function processKeyOf(pm: Pick<ProcessManager<any>, 'name' | 'correlate'>, event: RecordedEvent): string | undefined {
  const key = pm.correlate(event);
  if (key !== undefined && (typeof key !== 'string' || key === '')) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `process manager ${pm.name}: correlate must return a non-empty string or undefined, got ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/**
 * Checks a step of process manager `name` and lists its requests: cancellations, then schedules (`after` resolved
 * against `now`), then commands. `base` prefixes the tags of a step run for a refusal, so its keys differ from those of
 * the step that sent the refused command.
 * @throws INVALID_ARGUMENT not an object, a field that is not an array, a malformed command, schedule or cancel key, a
 * state with no JSON form
 */
export function checkProcessStep(name: string, step: unknown, now: number, base = ''): CheckedProcessStep {
  if (step === undefined) return { state: undefined, tasks: [] };
  const invalid = (message: string) => new ChronicleError('INVALID_ARGUMENT', `process manager ${name}: ${message}`);
  if (typeof step !== 'object' || step === null || Array.isArray(step)) throw invalid('a step must be an object or undefined');
  const fields = step as ProcessStep<unknown>;
  const list = (field: 'send' | 'schedule' | 'cancel'): readonly unknown[] => {
    const value = fields[field];
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalid(`a step's ${field} must be an array`);
    return value;
  };
  const tasks: ProcessTask[] = [];
  list('cancel').forEach((key, j) => {
    assertScheduleKey(key);
    tasks.push({ kind: 'cancel', key, tag: `${base}c${j}` });
  });
  list('schedule').forEach((s, j) => {
    assertScheduledCommand(s);
    tasks.push({ kind: 'schedule', scheduled: resolveAfter(s, now), tag: `${base}s${j}` });
  });
  list('send').forEach((c, j) => {
    const command = c as Partial<Command> | null;
    if (typeof command !== 'object' || command === null || typeof command.type !== 'string' || command.type === '') {
      throw invalid('a step sends commands of the form { type, data } (see command())');
    }
    tasks.push({ kind: 'send', command: { type: command.type, data: command.data }, tag: `${base}${j}`, index: j });
  });
  return { state: fields.state === undefined ? undefined : encodeProcessState(name, fields.state), tasks };
}

/** A process's state as it is stored: JSON, or null for none. @throws INVALID_ARGUMENT a state with no JSON form */
export function encodeProcessState(name: string, state: unknown): string | null {
  if (state === null) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(state);
  } catch (err) {
    throw new ChronicleError('INVALID_ARGUMENT', `process manager ${name}: its state cannot be written as JSON`, { cause: err });
  }
  if (json === undefined) {
    throw new ChronicleError('INVALID_ARGUMENT', `process manager ${name}: its state has no JSON form (${typeof state})`);
  }
  return json;
}
