// Typed access to a stored event's data in projection handlers.
import type { EventDefinition, PayloadOf, RecordedEvent } from 'chronicle-es';

/** The data of `event`, typed by its definition. Stored events were validated when decided, so this only types them. */
export function dataOf<D extends EventDefinition>(_definition: D, event: RecordedEvent): PayloadOf<D> {
  return event.data as PayloadOf<D>;
}
