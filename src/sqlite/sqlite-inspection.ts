// The SQLite store's answers to the inspection queries, each one indexed statement.
import type Database from 'better-sqlite3';
import { compareCodePoints, type InspectionSource, probeAnswer, toStreamSummary } from 'chronicle-es';
import { EVENT_COLUMNS, type EventRow, toEvent } from './event-row.js';
import { prepareStatement } from './prepared-statement.js';

type SummaryRow = [streamId: string, version: number, position: number, timestamp: string, deleted: number];

// The category of a stream id in SQL, as categoryOf computes it.
const CATEGORY_SQL = "CASE instr(stream_id, '-') WHEN 0 THEN stream_id ELSE substr(stream_id, 1, instr(stream_id, '-') - 1) END";

/** Inspection queries over the store's connection; `assertOpen` throws CLOSED once the store is closed. */
export function sqliteInspectionSource(db: Database.Database, assertOpen: () => void): InspectionSource {
  const raw = <Row>(sql: string) => prepareStatement<Row>(db, sql, 'raw');
  const totals = raw<[events: number, head: number]>('SELECT count(*), coalesce(max(position), 0) FROM events');
  // Version 1 marks each stream once; the (stream_id, version) index covers it, so the table itself is not read. A
  // stream truncated past version 1 (stream_lifecycle, state NULL) has no such row and is counted from there.
  const truncated = `SELECT ${CATEGORY_SQL} AS c FROM stream_lifecycle WHERE state IS NULL AND truncated_before > 1`;
  const streamCount = raw<[number]>(
    `SELECT (SELECT count(*) FROM events WHERE version = 1) + (SELECT count(*) FROM (${truncated}))`,
  );
  const eventsByCategory = raw<[string, number]>('SELECT category, count(*) FROM events GROUP BY category');
  const streamsByCategory = raw<[string, number]>(
    `SELECT c, count(*) FROM (SELECT ${CATEGORY_SQL} AS c FROM events WHERE version = 1 UNION ALL ${truncated}) GROUP BY c`,
  );
  // The latest version of each stream in the range from the (stream_id, version) index, then its last row by key.
  // One lower bound per statement: given two, the planner seeks on one of them, maybe the one that scans from the start.
  const listSql = (lower: '>' | '>=', bounded: boolean) => `
    SELECT m.stream_id, m.v, e.position, json_extract(e.metadata, '$.timestamp'), coalesce(s.deleted, 0)
    FROM (SELECT stream_id, max(version) AS v FROM events
          WHERE stream_id ${lower} ? ${bounded ? 'AND stream_id < ?' : ''}
          GROUP BY stream_id ORDER BY stream_id LIMIT ?) m
    JOIN events e ON e.stream_id = m.stream_id AND e.version = m.v
    LEFT JOIN streams s ON s.stream_id = m.stream_id
    ORDER BY m.stream_id`;
  const lists = {
    after: raw<SummaryRow>(listSql('>', false)),
    afterBounded: raw<SummaryRow>(listSql('>', true)),
    from: raw<SummaryRow>(listSql('>=', false)),
    fromBounded: raw<SummaryRow>(listSql('>=', true)),
  };
  const before = raw<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version < ? ORDER BY version DESC LIMIT ?`,
  );
  const byId = raw<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`);
  const probe = raw<[key: number, position: number | null, timestamp: string | null]>(
    `SELECT j.key, e.position, json_extract(e.metadata, '$.timestamp') FROM json_each(?) j
     LEFT JOIN events e ON e.position = (SELECT min(position) FROM events WHERE position >= j.value)
     ORDER BY j.key`,
  );

  return {
    async stats() {
      assertOpen();
      const [events, head] = totals.get() as [number, number];
      return { events, streams: (streamCount.get() as [number])[0], headPosition: head };
    },
    async categories() {
      assertOpen();
      const streams = new Map(streamsByCategory.all());
      return eventsByCategory
        .all()
        .map(([category, events]) => ({ category, streams: streams.get(category) ?? 0, events }))
        .sort((a, b) => compareCodePoints(a.category, b.category));
    },
    async streamsInRange({ after, from, to }, limit) {
      assertOpen();
      const exclusive = after !== undefined;
      const lower = after ?? from ?? '';
      const rows =
        to === undefined
          ? (exclusive ? lists.after : lists.from).all(lower, limit)
          : (exclusive ? lists.afterBounded : lists.fromBounded).all(lower, to, limit);
      return rows.map(([id, version, position, timestamp, deleted]) =>
        toStreamSummary([id, version, position, timestamp, deleted === 1]),
      );
    },
    async streamEventsBefore(streamId, version, limit) {
      assertOpen();
      return before.all(streamId, version, limit).map(toEvent);
    },
    async eventById(id) {
      assertOpen();
      const row = byId.get(id);
      return row === undefined ? undefined : toEvent(row);
    },
    async probe(positions) {
      assertOpen();
      return probe.all(JSON.stringify(positions)).map(([, position, timestamp]) => probeAnswer(position, timestamp));
    },
  };
}
