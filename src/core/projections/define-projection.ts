// A projection: the event types it handles and how each one updates its read tables.
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import { projectionReading } from '../evolution/projection-upcast.js';
import type { EventDefinition, PayloadOf } from '../messages.js';
import { assertReadModelName } from './read-model-name.js';

/**
 * Applies one event to the read model inside the batch's transaction. A returned promise is awaited; any other value
 * is ignored. The event object is shared with the projector's other projections: read it, never modify it.
 */
export type ProjectionHandler<Tx> = (event: RecordedEvent, tx: Tx) => unknown;

/** The stored event a definition describes, its data typed by the definition's schema. */
export type RecordedEventOf<D> = D extends EventDefinition<infer T, any> ? RecordedEvent<T, PayloadOf<D>> : never;

/** Handlers keyed by the types of `E`: each gets its own event's data typed. */
export type ProjectionHandlers<Tx, E extends EventDefinition<string, any>> = {
  readonly [K in E['type']]?: (event: RecordedEventOf<Extract<E, { type: K }>>, tx: Tx) => unknown;
};

export type ProjectionDefinition<Tx, E extends EventDefinition<string, any> = EventDefinition> = {
  /** Identifier: letters, digits and single underscores, starting with a letter. */
  name: string;
  /** Positive integer; raising it rebuilds the projection into fresh tables on the next start. */
  version: number;
  /**
   * The event definitions the handlers are keyed by (usually the application's whole catalog). With them each
   * handler receives its event's data typed, and a handler for a type that is not among them does not compile.
   * Without them handlers receive `RecordedEvent` with `data: unknown`.
   */
  events?: readonly E[];
  /** Creates the projection's tables for a fresh generation (use `tx.table(...)` for every name). Annotating its
   * parameter (`setup(tx: SqliteReadTx)`) is enough to type every handler's `tx`. */
  setup?: (tx: Tx) => unknown;
  /** One handler per event type; the projection subscribes to exactly these types. */
  handlers: ProjectionHandlers<Tx, E>;
};

/** A checked projection definition, ready for createProjector; its handlers take any stored event. */
export type Projection<Tx> = {
  readonly name: string;
  readonly version: number;
  /** May return a promise, which the store awaits before committing the generation. */
  readonly setup?: (tx: Tx) => unknown;
  readonly handlers: Readonly<Record<string, ProjectionHandler<Tx>>>;
  /** The event types it handles (the keys of `handlers`), and their former names when its `events` declare any. */
  readonly eventTypes: readonly string[];
  /**
   * Turns each stored event into its current type and shape (from the `events` it was declared with) before any
   * handler or `runBatch` sees it; one that throws fails the projection on that event. Absent: events as stored.
   */
  readonly upcast?: (event: RecordedEvent) => RecordedEvent;
  /** The event definitions it was declared with, if any (chronicle/testing stamps given events with their versions). */
  readonly events?: readonly EventDefinition<string, any>[];
  /**
   * @internal Chronicle's workflows use it (not a stable extension point). Applies a whole batch in place of calling
   * `handlers` one event at a time (a process manager sends a batch's commands together). It must throw `HandlerFailure` naming the first event it could not apply, and may be called
   * again with only the events before that one.
   */
  readonly runBatch?: (events: readonly RecordedEvent[], tx: Tx, context: BatchContext) => void | Promise<void>;
  /**
   * @internal Chronicle's scheduler uses it (not a stable extension point). Work that runs beside the projection on
   * the worker where it runs (with leases, the one holding its lease), from
   * start until `signal` aborts (stop, or the lease lost); a scheduler fires due commands here. It should catch its
   * own failures: one that escapes is dropped and the work is not restarted until the projection starts again.
   */
  readonly alongside?: (context: AlongsideContext) => Promise<void>;
  /**
   * Where a projection that never ran on this read store starts: at the beginning of the log (the default), or at
   * its head then, skipping history (a process manager added to a running system must not act on years of past
   * events). A raised version still rebuilds from the beginning.
   */
  readonly firstRun?: 'beginning' | 'head';
};

/** What a `runBatch` is told besides its events. */
export type BatchContext = {
  /**
   * Events at or before this position were already acted on by the generation serving now (this batch is a rebuild's
   * replay of them): re-derive their state, but take no action outside the read store. 0 for the serving generation.
   */
  replayThrough: number;
};

/** What a projection's `alongside` work gets. */
export type AlongsideContext = {
  /** Aborted when the projection stops here. */
  signal: AbortSignal;
  /** The read store's reader of this projection's served generation. */
  reader: unknown;
};

/** Declares a projection. @throws INVALID_ARGUMENT bad name, version, setup or handlers, or a handler for a type not in `events` */
export function defineProjection<Tx, E extends EventDefinition<string, any> = EventDefinition>(
  definition: ProjectionDefinition<Tx, E>,
): Projection<Tx> {
  const { name, version, setup, events } = definition;
  // Typed per event at the definition; the projector hands each handler only events of its own type.
  const handlers = definition.handlers as unknown as Record<string, ProjectionHandler<Tx>>;
  assertReadModelName('projection', name);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: version must be a positive integer`);
  }
  if (setup !== undefined && typeof setup !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: setup must be a function`);
  }
  if (typeof handlers !== 'object' || handlers === null) {
    throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: handlers must be an object of functions`);
  }
  const eventTypes = Object.keys(handlers);
  if (eventTypes.length === 0) {
    throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: at least one handler is required`);
  }
  const known = events === undefined ? undefined : new Set(events.map((e) => e.type));
  for (const type of eventTypes) {
    if (typeof handlers[type] !== 'function') {
      throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: handler for ${type} is not a function`);
    }
    if (known && !known.has(type)) {
      throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: handler for ${type}, which is not among its events`);
    }
  }
  const reading = projectionReading(events, eventTypes);
  return Object.freeze({
    name,
    version,
    setup,
    handlers: Object.freeze({ ...handlers }),
    eventTypes: Object.freeze([...reading.eventTypes]),
    ...(reading.upcast && { upcast: reading.upcast }),
    ...(events && { events: Object.freeze([...events]) }),
  });
}
