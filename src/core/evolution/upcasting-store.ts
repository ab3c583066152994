// An event store whose write-side reads (streams for deciders, queries for decisions) return events in their current
// shape, and whose appends stamp each event with its definition's schema version.
import { ChronicleError } from '../errors.js';
import type { ConditionOptions, EventStore, NewEvent, Query, RecordedEvent } from '../event-store.js';
import type { EventDefinition } from '../messages.js';
import { andThen, type StateStoredStore } from '../state-stored/state-stored-store.js';
import { createUpcaster, type Upcaster } from './upcast-event.js';

const UPCASTING = Symbol.for('chronicle.upcasting');

/**
 * `store`, reading through `definitions`' upcasters: `readStream` and `read` (what command and decision handlers load)
 * return each event in its current type and shape, a query for a type also finds its former names, and `append` /
 * `appendMany` stamp events of a defined type with its current `schemaVersion` unless one is given. The global log
 * (`readAll`, `subscribe`) is passed through as stored: projections and process managers upcast it themselves
 * through the `events` they declare, so an upcaster that throws stops only the projection reading that event. Every
 * other method is the store's own. Stored events never change.
 * @throws INVALID_ARGUMENT two definitions claim one type name
 */
export function withUpcasting<S extends EventStore>(store: S, definitions: readonly EventDefinition<string, any>[]): S {
  const upcaster = createUpcaster(definitions);
  const all = (events: RecordedEvent[]) => (upcaster.changesEvents ? events.map(upcaster.upcast) : events);
  const overrides: Partial<EventStore> & Partial<StateStoredStore<unknown>> & { [UPCASTING]: Upcaster } = {
    [UPCASTING]: upcaster,
    async readStream(streamId, options) {
      return all(await store.readStream(streamId, options));
    },
    async read(query, options) {
      const result = await store.read(storedQuery(query, upcaster), options);
      return { ...result, events: all(result.events) };
    },
    append: ((first: string | readonly NewEvent[], second?: unknown, third?: unknown) =>
      typeof first === 'string'
        ? store.append(first, stamped(second as readonly NewEvent[], upcaster), storedCondition(third as never, upcaster))
        : store.append(stamped(first, upcaster) as never, storedCondition(second as never, upcaster))) as EventStore['append'],
    appendMany(writes, options) {
      if (!Array.isArray(writes)) return store.appendMany(writes, storedCondition(options, upcaster));
      return store.appendMany(
        writes.map((w) => (typeof w === 'object' && w !== null ? { ...w, events: stamped(w.events, upcaster) } : w)),
        storedCondition(options, upcaster),
      );
    },
  };
  // A state-stored transaction's events are appended as appendMany's are: stamped with their schema versions.
  const transact = (store as Partial<StateStoredStore<unknown>>).transact;
  if (typeof transact === 'function') {
    overrides.transact = (work, options) =>
      typeof work !== 'function'
        ? transact.call(store, work, options)
        : transact.call(
            store,
            (tx) =>
              andThen(work(tx), (writes) =>
                Array.isArray(writes)
                  ? writes.map((w) => (typeof w === 'object' && w !== null ? { ...w, events: stamped(w.events, upcaster) } : w))
                  : writes,
              ),
            storedCondition(options, upcaster),
          );
  }
  // A proxy, so methods a store has beyond the port (or gains later) stay reachable, bound to the store itself.
  return new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof typeof overrides];
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The upcaster of a store made by `withUpcasting`, if it is one. */
export function upcasterOf(store: EventStore): Upcaster | undefined {
  return (store as unknown as { [UPCASTING]?: Upcaster })[UPCASTING];
}

// A query's types widened to their former names, so events stored under an old name are found.
function storedQuery(query: Query, upcaster: Upcaster): Query {
  if (!upcaster.changesEvents || !Array.isArray(query)) return query;
  return query.map((item) =>
    typeof item === 'object' && item !== null && Array.isArray(item.types)
      ? { ...item, types: upcaster.storedTypes(item.types) }
      : item,
  );
}

// An append condition over a type holds over its former names too (the decision read them under both).
function storedCondition<O>(options: O, upcaster: Upcaster): O {
  const condition = (options as ConditionOptions | undefined)?.condition;
  if (typeof condition !== 'object' || condition === null || !Array.isArray(condition.failIfEventsMatch)) return options;
  return { ...options, condition: { ...condition, failIfEventsMatch: storedQuery(condition.failIfEventsMatch, upcaster) } };
}

// Events of a defined type get its current schemaVersion unless they carry one. One metadata object shared by a batch
// (the usual case) stays shared, so the store still encodes it once.
function stamped<E extends NewEvent>(events: readonly E[], upcaster: Upcaster): readonly E[] {
  if (!Array.isArray(events)) return events;
  let given: unknown = null;
  let version = 0;
  let made: NewEvent['metadata'];
  return events.map((event) => {
    if (typeof event !== 'object' || event === null) return event;
    const current = upcaster.versionOf(event.type);
    if (current === undefined || current === 1 || event.metadata?.schemaVersion !== undefined) return event;
    if (event.metadata !== undefined && (typeof event.metadata !== 'object' || event.metadata === null)) {
      throw new ChronicleError('INVALID_ARGUMENT', `event ${event.type} metadata must be an object when given`);
    }
    if (event.metadata !== given || version !== current) {
      given = event.metadata;
      version = current;
      made = { ...event.metadata, schemaVersion: current };
    }
    return { ...event, metadata: made };
  });
}
