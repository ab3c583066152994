// The shape of an event row as the SQLite store's SELECTs return it, and its decoding: shared by the store and its
// inspection queries.
import type { RecordedEvent } from 'chronicle-es';

/** Column order of every event SELECT; rows come back as arrays (`.raw()`) to skip building keyed objects. */
export type EventRow = [
  position: number,
  id: string,
  streamId: string,
  version: number,
  type: string,
  data: string,
  metadata: string,
  tags: string | null,
];

export const EVENT_COLUMN_LIST = ['position', 'id', 'stream_id', 'version', 'type', 'data', 'metadata', 'tags'] as const;
export const EVENT_COLUMNS = EVENT_COLUMN_LIST.join(', ');

/** The `tags` column: the explicit tags as JSON, NULL for the untagged events that are most of the log. */
export const tagsOf = (json: string | null): string[] => (json === null ? [] : JSON.parse(json));

/** A row as a RecordedEvent. */
export function toEvent(row: EventRow): RecordedEvent {
  return {
    id: row[1],
    type: row[4],
    data: JSON.parse(row[5]),
    metadata: JSON.parse(row[6]),
    streamId: row[2],
    version: row[3],
    position: row[0],
    tags: tagsOf(row[7]),
  };
}
