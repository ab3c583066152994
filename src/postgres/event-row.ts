// The shape of an event row as the PostgreSQL store's SELECTs return it, and its decoding: shared by the store and
// its inspection queries.
import type { RecordedEvent } from 'chronicle-es';

/** Column order of every event SELECT; rows come back as arrays to skip building keyed objects. */
export type EventRow = [
  position: number,
  id: string,
  streamId: string,
  version: number,
  type: string,
  data: unknown,
  metadata: unknown,
  tags: string[] | null,
];

export const EVENT_COLUMNS = ['position', 'id', 'stream_id', 'version', 'type', 'data', 'metadata', 'tags'] as const;

/** A row as a RecordedEvent. */
export const toEvent = (row: EventRow): RecordedEvent => ({
  id: row[1],
  type: row[4],
  data: row[5],
  metadata: row[6] as RecordedEvent['metadata'],
  streamId: row[2],
  version: row[3],
  position: row[0],
  tags: row[7] ?? [],
});
