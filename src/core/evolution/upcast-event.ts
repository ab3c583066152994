// Reading an event as its definition's current shape: a former type name becomes the current one, and data of an
// older schema version goes through the definition's upcasters. The stored event is never touched: a new object is
// returned, or the same one when it already is current.
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import type { EventDefinition } from '../messages.js';

/** Turns stored events into their current shape by a set of event definitions. */
export type Upcaster = {
  /**
   * The event in its definition's current type and shape (the same object when it already is, or when no definition
   * names its type). An upcast event's metadata says `schemaVersion` (now current) and `upcastFrom` (as stored).
   * @throws UPCAST_FAILED an upcaster threw, none leads from the stored version, or the stored version is newer than
   *   the definition (details name the event)
   */
  upcast(event: RecordedEvent): RecordedEvent;
  /** `types` and every former name of them: what a read for these types must ask the store for. */
  storedTypes(types: readonly string[]): string[];
  /** The current schema version of a type, if a definition names it (under its current name). */
  versionOf(type: string): number | undefined;
  /** True when some definition has upcasters, aliases or a schemaVersion above 1, i.e. reading can change an event. */
  readonly changesEvents: boolean;
};

/** Where an upcast event came from: its type and schema version as stored. */
export type UpcastFrom = { type: string; schemaVersion: number };

/**
 * An upcaster over `definitions` (usually the application's whole event catalog).
 * @throws INVALID_ARGUMENT two definitions claim one type name (as their type or an alias)
 */
export function createUpcaster(definitions: readonly EventDefinition<string, any>[]): Upcaster {
  if (!Array.isArray(definitions)) throw new ChronicleError('INVALID_ARGUMENT', 'event definitions must be an array');
  const byName = new Map<string, EventDefinition<string, any>>();
  const formerNames = new Map<string, string[]>();
  for (const definition of new Set(definitions)) {
    if (definition?.kind !== 'event') throw new ChronicleError('INVALID_ARGUMENT', 'not an event definition');
    for (const name of [definition.type, ...(definition.aliases ?? [])]) {
      const other = byName.get(name);
      if (other !== undefined && other !== definition) {
        throw new ChronicleError('INVALID_ARGUMENT', `event type ${name} is claimed by two definitions`, {
          details: { type: name },
        });
      }
      byName.set(name, definition);
    }
    if (definition.aliases) formerNames.set(definition.type, [...definition.aliases]);
  }
  // A catalog with no evolution at all reads every event as stored: nothing to check, nothing to allocate.
  const changesEvents = [...byName.values()].some(
    (d) => d.upcasters !== undefined || d.aliases !== undefined || d.schemaVersion > 1,
  );

  function upcast(event: RecordedEvent): RecordedEvent {
    const definition = byName.get(event.type);
    if (definition === undefined) return event;
    const stored = event.metadata?.schemaVersion ?? 1;
    const current = definition.schemaVersion;
    if (stored === current && event.type === definition.type) return event;
    const failed = (reason: string, cause?: unknown) =>
      new ChronicleError(
        'UPCAST_FAILED',
        `event ${event.type} v${stored} at position ${event.position} (stream ${event.streamId}, version ${event.version}) ` +
          `cannot be read as ${definition.type} v${current}: ${reason}`,
        {
          details: {
            eventId: event.id,
            type: event.type,
            schemaVersion: stored,
            streamId: event.streamId,
            version: event.version,
            position: event.position,
          },
          cause,
        },
      );
    if (!(Number.isSafeInteger(stored) && stored >= 1)) throw failed('its schemaVersion is not a positive integer');
    if (stored > current) throw failed('it was written by a newer schema version than this code knows');
    let data = event.data;
    const steps = definition.upcasters ?? [];
    for (let version = stored; version < current; version++) {
      const step = steps.find((s) => s.from === version);
      if (step === undefined) throw failed(`no upcaster from version ${version}`);
      try {
        data = step.upcast(data);
      } catch (err) {
        throw failed(`its upcaster from version ${version} threw: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }
    const upcastFrom: UpcastFrom = { type: event.type, schemaVersion: stored };
    return { ...event, type: definition.type, data, metadata: { ...event.metadata, schemaVersion: current, upcastFrom } };
  }

  return {
    upcast,
    storedTypes: (types) => [...new Set(types.flatMap((t) => [t, ...(formerNames.get(t) ?? [])]))],
    versionOf: (type) => {
      const definition = byName.get(type);
      return definition?.type === type ? definition.schemaVersion : undefined;
    },
    changesEvents,
  };
}
