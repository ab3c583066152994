// Finds the events matching a Query in SQL: one indexed range read per query item, merged in position order.
import type Database from 'better-sqlite3';
import type { Query } from 'chronicle-es';
import { storeError } from './sqlite-error.js';

/** Positions of the events matching a query; runs inside whatever transaction the caller holds. */
export type QueryMatcher = {
  /**
   * The positions ≥ `from` of the events matching any item of `query` (already normalized), ascending, at most
   * `limit` of them. @throws STORE_ERROR
   */
  positions(query: Query, from: number, limit: number): number[];
};

// Above every position; SQLite compares it with INTEGER positions exactly.
const NO_BOUND = Number.MAX_SAFE_INTEGER;
// How many of a tag's events a multi-tag item counts to pick the rarest tag to drive its scan: enough to tell a tag
// of a few events from one of thousands, bounded so the probe never costs more than a short index walk.
const RARITY_SAMPLE = 256;

/**
 * Prepares the statements of the matcher on `db` (which must hold the event store's schema).
 *
 * Every statement is fixed SQL, prepared once: tags and types are always bound, lists of them as one JSON array read
 * with json_each, so no query's shape or content becomes SQL text and no query can reach SQLite's variable limit.
 * Each item is one range read of an index in position order, bounded by `LIMIT`: a tag item walks `event_tags` from
 * (tag, from), a types-only item walks `events_type` from (type, from) once per type, `{}` walks the log itself. Once
 * `limit` positions are known, later items only look below the last of them.
 */
export function createQueryMatcher(db: Database.Database): QueryMatcher {
  const prepare = (sql: string) => {
    const statement = db.prepare(sql).pluck(true);
    return {
      all: (...params: unknown[]): number[] => {
        try {
          return statement.all(...params) as number[];
        } catch (err) {
          throw storeError(err, sql);
        }
      },
      get: (...params: unknown[]): number => {
        try {
          return statement.get(...params) as number;
        } catch (err) {
          throw storeError(err, sql);
        }
      },
    };
  };
  const range = 'position >= ? AND position <= ? ORDER BY position LIMIT ?';
  const everyEvent = prepare(`SELECT position FROM events WHERE ${range}`);
  const ofType = prepare(`SELECT position FROM events WHERE type = ? AND ${range}`);
  const withTag = prepare(`SELECT position FROM event_tags WHERE tag = ? AND ${range}`);
  // The correlated subqueries keep the scan driven by the one tag's index range, checking each candidate's other tags
  // by primary key and its type by rowid; a join would leave the planner free to start from another index.
  const withTagChecked = prepare(
    `SELECT t.position FROM event_tags t
     WHERE t.tag = ? AND t.position >= ? AND t.position <= ?
       AND NOT EXISTS (SELECT 1 FROM json_each(?) g
                       WHERE NOT EXISTS (SELECT 1 FROM event_tags u WHERE u.tag = g.value AND u.position = t.position))
       AND (? IS NULL OR (SELECT e.type FROM events e WHERE e.position = t.position) IN (SELECT value FROM json_each(?)))
     ORDER BY t.position LIMIT ?`,
  );
  const sampleTag = prepare(
    `SELECT count(*) FROM (SELECT 1 FROM event_tags WHERE tag = ? AND position >= ? LIMIT ${RARITY_SAMPLE})`,
  );

  // The tag whose index range is shortest from `from` on (of those sampled), so the scan visits the fewest candidates.
  function rarest(tags: readonly string[], from: number): number {
    let best = 0;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < tags.length; i++) {
      const count = sampleTag.get(tags[i], from);
      if (count < bestCount) {
        best = i;
        bestCount = count;
        if (count === 0) break;
      }
    }
    return best;
  }

  return {
    positions(query, from, limit) {
      // SQLite reads a negative LIMIT as none.
      const sqlLimit = limit === Number.MAX_SAFE_INTEGER ? -1 : limit;
      if (query.some((item) => item.tags === undefined && item.types === undefined)) {
        return everyEvent.all(from, NO_BOUND, sqlLimit);
      }
      let found: number[] = [];
      let upto = NO_BOUND;
      const add = (positions: number[]) => {
        if (positions.length === 0) return;
        found = found.length === 0 ? positions : mergeDistinct(found, positions);
        if (found.length >= limit) {
          found.length = limit;
          upto = found[limit - 1];
        }
      };
      for (const item of query) {
        const { tags, types } = item;
        if (tags === undefined) {
          for (const type of types ?? []) add(ofType.all(type, from, upto, sqlLimit));
        } else if (tags.length === 1 && types === undefined) {
          add(withTag.all(tags[0], from, upto, sqlLimit));
        } else {
          const driver = tags.length === 1 ? 0 : rarest(tags, from);
          const others = JSON.stringify(tags.filter((_, i) => i !== driver));
          const typesJson = types === undefined ? null : JSON.stringify(types);
          add(withTagChecked.all(tags[driver], from, upto, others, typesJson, typesJson, sqlLimit));
        }
      }
      return found;
    },
  };
}

// The union of two ascending lists of positions, ascending, each position once.
function mergeDistinct(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) out.push(a[i++]);
    else if (b[j] < a[i]) out.push(b[j++]);
    else {
      out.push(a[i++]);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}
