// The PostgreSQL store's answers to the inspection queries: the streams table lists streams, the (stream_id, version)
// and position keys answer the rest.
import { type InspectionSource, probeAnswer, type StreamSummaryRow, toStreamSummary } from 'chronicle-es';
import { EVENT_COLUMNS, type EventRow, toEvent } from './event-row.js';

/** How the store runs one statement (its pool, its error translation, CLOSED once closed). */
export type InspectionQuery = <Row>(text: string, values: unknown[], what: string) => Promise<Row[]>;

/** Inspection queries over the store's tables in schema `s` (quoted). */
export function postgresInspectionSource(query: InspectionQuery, s: string): InspectionSource {
  const columns = EVENT_COLUMNS.join(', ');
  // Every stream ever appended to has a streams row (appends lock it); the lateral read takes its last event.
  // One lower bound per statement, so the index seek starts where the range does.
  const listSql = (lower: '>' | '>=', bounded: boolean) => `
    SELECT st.stream_id, l.version, l.position, l.metadata->>'timestamp', st.deleted
    FROM ${s}.streams st
    CROSS JOIN LATERAL (SELECT version, position, metadata FROM ${s}.events e
                        WHERE e.stream_id = st.stream_id ORDER BY version DESC LIMIT 1) l
    WHERE st.stream_id ${lower} $1 ${bounded ? 'AND st.stream_id < $3' : ''}
    ORDER BY st.stream_id LIMIT $2`;

  return {
    async stats() {
      const [[events, head, streams]] = await query<[number, number, number]>(
        // A stream truncated past version 1 has no such row: stream_lifecycle counts it.
        `SELECT count(*)::bigint, coalesce(max(position), 0), count(*) FILTER (WHERE version = 1)
          + (SELECT count(*) FROM ${s}.stream_lifecycle WHERE state IS NULL AND truncated_before > 1) FROM ${s}.events`,
        [],
        'inspect stats',
      );
      return { events, streams, headPosition: head };
    },
    async categories() {
      const rows = await query<[string, number, number]>(
        `SELECT category, sum(streams)::bigint, sum(events)::bigint FROM (
            SELECT category, count(*) FILTER (WHERE version = 1) AS streams, count(*) AS events FROM ${s}.events GROUP BY category
            UNION ALL SELECT split_part(stream_id, '-', 1), count(*), 0 FROM ${s}.stream_lifecycle
              WHERE state IS NULL AND truncated_before > 1 GROUP BY 1) c
          GROUP BY category ORDER BY category`,
        [],
        'inspect categories',
      );
      return rows.map(([category, streams, events]) => ({ category, streams, events }));
    },
    async streamsInRange({ after, from, to }, limit) {
      const values = [after ?? from ?? '', limit];
      const rows = await query<StreamSummaryRow>(
        listSql(after !== undefined ? '>' : '>=', to !== undefined),
        to === undefined ? values : [...values, to],
        'inspect streams',
      );
      return rows.map(toStreamSummary);
    },
    async streamEventsBefore(streamId, version, limit) {
      const rows = await query<EventRow>(
        `SELECT ${columns} FROM ${s}.events WHERE stream_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3`,
        [streamId, version, limit],
        'inspect stream',
      );
      return rows.map(toEvent);
    },
    async eventById(id) {
      const rows = await query<EventRow>(`SELECT ${columns} FROM ${s}.events WHERE id = $1`, [id], 'inspect event');
      return rows.length === 0 ? undefined : toEvent(rows[0]);
    },
    async probe(positions) {
      const rows = await query<[position: number | null, timestamp: string | null]>(
        `SELECT l.position, l.metadata->>'timestamp' FROM unnest($1::bigint[]) WITH ORDINALITY p(pos, ord)
         LEFT JOIN LATERAL (SELECT position, metadata FROM ${s}.events WHERE position >= p.pos ORDER BY position LIMIT 1) l
           ON true
         ORDER BY p.ord`,
        [positions],
        'inspect write rate',
      );
      return rows.map(([position, timestamp]) => probeAnswer(position, timestamp));
    },
  };
}
