// A projection: the event types it handles and how each one updates its read tables.
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import { assertReadModelName } from './read-model-name.js';

/**
 * Applies one event to the read model inside the batch's transaction. A returned promise is awaited; any other value
 * is ignored. The event object is shared with the projector's other projections: read it, never modify it.
 */
export type ProjectionHandler<Tx> = (event: RecordedEvent, tx: Tx) => unknown;

export type ProjectionDefinition<Tx> = {
  /** Identifier: letters, digits and single underscores, starting with a letter. */
  name: string;
  /** Positive integer; raising it rebuilds the projection into fresh tables on the next start. */
  version: number;
  /** Creates the projection's tables for a fresh generation (use `tx.table(...)` for every name). */
  setup?: (tx: Tx) => void;
  /** One handler per event type; the projection subscribes to exactly these types. */
  handlers: Record<string, ProjectionHandler<Tx>>;
};

/** A checked projection definition, ready for createProjector. */
export type Projection<Tx> = Readonly<ProjectionDefinition<Tx>> & {
  /** The event types it handles (the keys of `handlers`). */
  readonly eventTypes: readonly string[];
};

/** Declares a projection. @throws INVALID_ARGUMENT bad name, version, setup or handlers */
export function defineProjection<Tx>(definition: ProjectionDefinition<Tx>): Projection<Tx> {
  const { name, version, setup, handlers } = definition;
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
  for (const type of eventTypes) {
    if (typeof handlers[type] !== 'function') {
      throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: handler for ${type} is not a function`);
    }
  }
  return Object.freeze({ name, version, setup, handlers: Object.freeze({ ...handlers }), eventTypes: Object.freeze(eventTypes) });
}
