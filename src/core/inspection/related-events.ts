// The correlation and causation neighbourhood of one event, from any store that can find an event by id.
import type { EventStore, RecordedEvent } from '../event-store.js';
import type { RelatedEvents } from './store-inspector.js';

const MAX_CAUSES = 20;
const MAX_CORRELATED = 100;
// Effects follow their cause and a flow's events sit close together in the log: a window of positions around the
// event finds them in one bounded read, where a search of the whole log by metadata would need an index per key.
const WINDOW = 1000;

/** The event's causes (by id), and its effects and correlated events within a window of the log. */
export async function relatedEvents(
  event: RecordedEvent,
  store: Pick<EventStore, 'readAll'>,
  eventById: (id: string) => Promise<RecordedEvent | undefined>,
): Promise<RelatedEvents> {
  const causes: RecordedEvent[] = [];
  const seen = new Set([event.id]);
  for (let cause = event.metadata.causationId; typeof cause === 'string' && causes.length < MAX_CAUSES; ) {
    if (seen.has(cause)) break;
    seen.add(cause);
    const found = await eventById(cause);
    if (found === undefined) break;
    causes.push(found);
    cause = found.metadata.causationId;
  }
  const from = Math.max(0, event.position - WINDOW);
  const around = await store.readAll({ from, limit: 2 * WINDOW + 1 });
  const to = around.length === 0 ? event.position : Math.max(event.position, around[around.length - 1].position);
  const correlationId = event.metadata.correlationId;
  const effects = around.filter((e) => e.metadata.causationId === event.id && e.id !== event.id);
  const correlated =
    correlationId === undefined
      ? []
      : around.filter((e) => e.metadata.correlationId === correlationId && e.id !== event.id).slice(0, MAX_CORRELATED);
  return { event, causes, effects, correlated, scanned: { from, to } };
}
