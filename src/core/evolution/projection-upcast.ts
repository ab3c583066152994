// What a projection (or process manager) declaring event definitions reads: its handled types with their former
// names, and the upcast its batches go through before any handler sees them.
import type { RecordedEvent } from '../event-store.js';
import type { EventDefinition } from '../messages.js';
import { createUpcaster } from './upcast-event.js';

/** The types to subscribe to and the upcast to apply, for handlers of `handled` typed by `definitions`. */
export function projectionReading(
  definitions: readonly EventDefinition<string, any>[] | undefined,
  handled: readonly string[],
): { eventTypes: readonly string[]; upcast?: (event: RecordedEvent) => RecordedEvent } {
  if (definitions === undefined) return { eventTypes: handled };
  const upcaster = createUpcaster(definitions);
  if (!upcaster.changesEvents) return { eventTypes: handled };
  return { eventTypes: upcaster.storedTypes(handled), upcast: upcaster.upcast };
}
