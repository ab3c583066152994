// Given/When/Then for process managers: given past events (they build the process's state) and refusals, when an
// event (or a refusal of a command an earlier step sent), then these commands, schedules, cancellations and state.
// Pure: the steps run and are checked as the runtime runs and checks them (the correlation key, the step's shape,
// state kept per key as JSON, onRefused's round limit), with no store and no bus.
import assert from 'node:assert/strict';
import {
  ChronicleError,
  type ChronicleErrorCode,
  type Command,
  checkProcessStep,
  createUpcaster,
  type EventDefinition,
  type EventMetadata,
  encodeProcessState,
  isChronicleError,
  MAX_REFUSAL_ROUNDS,
  type PayloadOf,
  type ProcessContext,
  type ProcessManager,
  processKeyOf,
  type RecordedEvent,
  type Refusal,
  resolveAfter,
  type ScheduledCommand,
} from 'chronicle-es';

/** An event of a scenario, typed by the process's event definitions; `streamId` defaults to `spec-1`. */
export type ProcessEvent<E extends EventDefinition<string, any>> =
  E extends EventDefinition<infer T, any>
    ? {
        type: T;
        data: PayloadOf<E>;
        streamId?: string;
        /** Default `spec-event-<n>`, n counting the scenario's events from 1. */
        id?: string;
        metadata?: Partial<EventMetadata>;
        tags?: readonly string[];
      }
    : never;

/** What one step did: what it sent, scheduled (`after` resolved against the scenario's clock) and cancelled. */
export type ProcessOutcome<S> = {
  /** The event's correlation key; undefined when the process skips the event (then nothing else happened). */
  key: string | undefined;
  send: Command[];
  schedule: ScheduledCommand[];
  cancel: string[];
  /** The key's state after the step; undefined when it has none (ended, or never begun). */
  state: S | undefined;
};

/** What a scenario expects of the step. `send`, `schedule` and `cancel` default to none: exactly these, in order. */
export type ProcessExpectation<S> = {
  send?: readonly Command[];
  /** Compared after resolving `after` against the scenario's clock on both sides, as the runtime stores it. */
  schedule?: readonly ScheduledCommand[];
  cancel?: readonly string[];
  /** The state after the step; `null` for none (the process ended or never began). Left out: not checked. */
  state?: S | null;
};

export type ProcessThen<S> = {
  /** Runs the scenario and asserts the step did exactly what `expected` says; resolves with what it did. */
  then(expected: ProcessExpectation<S>): Promise<ProcessOutcome<S>>;
  /** Runs the scenario and resolves with what the step did, for assertions of one's own. */
  outcome(): Promise<ProcessOutcome<S>>;
  /**
   * Asserts the step threw a ChronicleError of `code` (and a message matching `message`, if given), or any error whose
   * message matches a RegExp — which would stop the process on its event.
   */
  thenFails(code: ChronicleErrorCode | RegExp, message?: string | RegExp): Promise<void>;
};

/**
 * The refusal a scenario hands to `onRefused`: the command (or its type) an earlier step sent — a given event's, or
 * an onRefused step's for a given refusal.
 */
export type GivenRefusal = {
  command: Command | string;
  /** Default DOMAIN_RULE. */
  code?: ChronicleErrorCode;
  /** Default `refused`. */
  message?: string;
};

/** What happened before the step under test: an event, or the refusal of a command an earlier step sent. */
export type ProcessGiven<E extends EventDefinition<string, any>> = ProcessEvent<E> | { refused: GivenRefusal };

export type ProcessWhen<S, E extends EventDefinition<string, any>> = {
  /** The event whose step is under test. */
  when(event: ProcessEvent<E>): ProcessThen<S>;
  /**
   * A command sent by an earlier step (the latest that sent a matching one) is refused: the step under test is
   * `onRefused`'s, with the state the given events left for that event's key. A refusal of what onRefused sent at
   * its round limit (MAX_REFUSAL_ROUNDS) is only recorded, as at run time: nothing sent, the state as it was.
   */
  whenRefused(refusal: GivenRefusal): ProcessThen<S>;
};

export type ProcessManagerSpecOptions = {
  /** The clock every step sees (`context.now`) and the events' timestamps. Default 2030-01-01T00:00:00Z. */
  now?: number | Date | string;
};

const DEFAULT_NOW = Date.parse('2030-01-01T00:00:00.000Z');

/**
 * Starts a process manager scenario: `processManagerSpec(pm).given([...]).when(event).then({ send: [...] })`.
 * Runner-agnostic (node:assert); each assertion runs the scenario from scratch.
 * @throws INVALID_ARGUMENT a `now` that is not a time
 */
export function processManagerSpec<S, E extends EventDefinition<string, any>>(
  pm: ProcessManager<S, E>,
  options: ProcessManagerSpecOptions = {},
): { given(history?: readonly ProcessGiven<E>[]): ProcessWhen<S, E> } {
  const now = timeOf(options.now ?? DEFAULT_NOW);
  return {
    given(history = []) {
      const scenario = (last: (world: World<S>) => Promise<ProcessOutcome<S>>): ProcessThen<S> => {
        const run = async () => {
          const world = new World(pm, now);
          for (const entry of history) {
            if ('refused' in entry) await world.refuse(entry.refused);
            else await world.step(world.record(entry));
          }
          return last(world);
        };
        return {
          // biome-ignore lint/suspicious/noThenProperty: Given/When/Then is the API's vocabulary; callers await its result, not the scenario.
          async then(expected) {
            const outcome = await run();
            assert.deepStrictEqual(outcome.send, (expected.send ?? []).map(asCommand), 'commands sent');
            assert.deepStrictEqual(
              outcome.schedule,
              (expected.schedule ?? []).map((s) => resolveAfter(s, now)),
              'commands scheduled',
            );
            assert.deepStrictEqual(outcome.cancel, [...(expected.cancel ?? [])], 'schedules cancelled');
            if ('state' in expected) {
              assert.deepStrictEqual(outcome.state, expected.state === null ? undefined : normalize(expected.state), 'state');
            }
            return outcome;
          },
          outcome: run,
          async thenFails(code, message) {
            let outcome: ProcessOutcome<S> | undefined;
            let thrown: unknown;
            try {
              outcome = await run();
            } catch (err) {
              thrown = err;
            }
            if (thrown === undefined) assert.fail(`expected the step to fail, but it did ${JSON.stringify(outcome)}`);
            const text = thrown instanceof Error ? thrown.message : String(thrown);
            if (code instanceof RegExp) {
              assert.match(text, code);
              return;
            }
            assert.ok(isChronicleError(thrown, code), `expected ChronicleError ${code}, got ${String(thrown)}`);
            if (typeof message === 'string') assert.equal(text, message);
            else if (message) assert.match(text, message);
          },
        };
      };
      return {
        when: (event) => scenario((world) => world.step(world.record(event))),
        whenRefused: (refusal) => scenario((world) => world.refuse(refusal)),
      };
    },
  };
}

// The scenario's state: the events recorded so far, each key's state as JSON, and what each step sent (an event's
// step at round 0, an onRefused step one round above the command it answered).
class World<S> {
  private position = 0;
  private readonly versions = new Map<string, number>();
  private readonly states = new Map<string, string>();
  private readonly sent: Array<{ event: RecordedEvent; key: string; commands: Command[]; round: number }> = [];
  // As the runtime reads them: given events are today's (stamped with their definition's version), and one given at
  // an older metadata.schemaVersion is upcast before the step sees it.
  private readonly upcaster: ReturnType<typeof createUpcaster>;

  constructor(
    private readonly pm: ProcessManager<S, any>,
    private readonly now: number,
  ) {
    this.upcaster = createUpcaster(pm.events ?? []);
  }

  record(event: ProcessEvent<any>): RecordedEvent {
    const { type, data, streamId = 'spec-1', id, metadata, tags = [] } = event as ProcessEvent<EventDefinition>;
    const version = (this.versions.get(streamId) ?? 0) + 1;
    this.versions.set(streamId, version);
    this.position++;
    return {
      id: id ?? `spec-event-${this.position}`,
      type,
      data,
      metadata: { schemaVersion: this.upcaster.versionOf(type) ?? 1, timestamp: new Date(this.now).toISOString(), ...metadata },
      streamId,
      version,
      position: this.position,
      tags,
    };
  }

  async step(stored: RecordedEvent): Promise<ProcessOutcome<S>> {
    const event = this.upcaster.upcast(stored);
    // The runtime hands a process only the events it has a step for, and skips those it correlates to no key.
    const handler = Object.hasOwn(this.pm.handlers, event.type) ? this.pm.handlers[event.type] : undefined;
    const key = handler ? processKeyOf(this.pm, event) : undefined;
    if (key === undefined || !handler) return { key, send: [], schedule: [], cancel: [], state: undefined };
    const outcome = this.apply(key, await handler(event, this.context(key)));
    this.sent.push({ event, key, commands: outcome.send, round: 0 });
    return outcome;
  }

  async refuse(given: GivenRefusal): Promise<ProcessOutcome<S>> {
    const matches = (c: Command) =>
      typeof given.command === 'string' ? c.type === given.command : isDeepStrictEqual(c, asCommand(given.command));
    for (let s = this.sent.length - 1; s >= 0; s--) {
      const { event, key, commands, round } = this.sent[s];
      const index = commands.findIndex(matches);
      if (index === -1) continue;
      if (!this.pm.onRefused) assert.fail(`process manager ${this.pm.name} has no onRefused: refusals are only recorded`);
      // Past the round limit the runtime only records the refusal.
      if (round >= MAX_REFUSAL_ROUNDS) return { key, send: [], schedule: [], cancel: [], state: this.stateOf(key) };
      const refusal: Refusal = {
        command: commands[index],
        code: given.code ?? 'DOMAIN_RULE',
        message: given.message ?? 'refused',
        event,
        index,
      };
      const outcome = this.apply(key, await this.pm.onRefused(refusal, this.context(key)));
      this.sent.push({ event, key, commands: outcome.send, round: round + 1 });
      return outcome;
    }
    const what = typeof given.command === 'string' ? given.command : JSON.stringify(given.command);
    return assert.fail(`no earlier step sent ${what}`);
  }

  private context(key: string): ProcessContext<S> {
    return { key, state: this.stateOf(key), now: this.now };
  }

  private stateOf(key: string): S | undefined {
    const json = this.states.get(key);
    return json === undefined ? undefined : (JSON.parse(json) as S);
  }

  // The runtime's own checks of a step: its shape, its requests and its state's JSON form.
  private apply(key: string, step: unknown): ProcessOutcome<S> {
    const { state, tasks } = checkProcessStep(this.pm.name, step, this.now);
    if (state === null) this.states.delete(key);
    else if (state !== undefined) this.states.set(key, state);
    const outcome: ProcessOutcome<S> = { key, send: [], schedule: [], cancel: [], state: this.stateOf(key) };
    for (const task of tasks) {
      if (task.kind === 'send') outcome.send.push(task.command);
      else if (task.kind === 'schedule') outcome.schedule.push(task.scheduled);
      else outcome.cancel.push(task.key);
    }
    return outcome;
  }
}

const asCommand = (c: Command): Command => ({ type: c.type, data: c.data });

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

// The state as the runtime keeps it: JSON, so a Date comes back a string and undefined fields are gone.
const normalize = (state: unknown): unknown => JSON.parse(encodeProcessState('(expected)', state) ?? 'null');

function timeOf(value: number | Date | string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new ChronicleError('INVALID_ARGUMENT', `processManagerSpec: now must be a time, got ${String(value)}`);
  }
  return ms;
}
