// Finds the events matching a Query in SQL: one indexed range read per query item, as one statement where it can.
import type Database from 'better-sqlite3';
import type { Query, QueryItem } from 'chronicle-es';
import { prepareStatement } from './prepared-statement.js';
import { storeError } from './sqlite-error.js';

/** Event rows as the store selects them: position first, then the store's other columns. */
export type MatchedRow = [position: number, ...rest: unknown[]];

/** Finds the events matching a query (already normalized) in the event store's tables. */
export type QueryMatcher<Row extends MatchedRow> = {
  /**
   * The position of the first event after `after` matching any item of `query`, or undefined; one statement, run in
   * whatever transaction the caller holds (an append's condition check runs it inside the write lock).
   * @throws STORE_ERROR
   */
  firstAfter(query: Query, after: number): number | undefined;
  /**
   * The rows of the events ≥ `from` matching `query`, ascending, at most `limit` of them, and the head position of
   * the same snapshot (the last row's position when `limit` cut the read short). @throws STORE_ERROR
   */
  read(query: Query, from: number, limit: number): { rows: Row[]; head: number };
};

// Above every position; SQLite compares it with INTEGER positions exactly.
const NO_BOUND = Number.MAX_SAFE_INTEGER;
// How many of a tag's events a multi-tag item counts to pick the rarest tag to drive its scan: enough to tell a tag
// of a few events from one of thousands, bounded so the probe never costs more than a short index walk.
const RARITY_SAMPLE = 256;

/**
 * Prepares the statements of the matcher on `db` (which must hold the event store's schema); `columns` are the event
 * columns a row holds, `position` first.
 *
 * Every statement is fixed SQL, prepared once: tags and types are always bound, lists of them as JSON arrays read
 * with json_each, so no query's shape or content becomes SQL text and no query can reach SQLite's variable limit.
 * Each item is a range read of an index in position order: a tag item walks `event_tags` from (tag, from) — the
 * item's rarest tag when it has several, its other tags checked by primary key and its types by rowid — a types-only
 * item walks `events_type` from (type, from) once per type, `{}` walks the log itself. A condition check or a read
 * without a limit runs all items in one statement: a statement costs ~4 µs on top of its index work, and one statement
 * is its own snapshot, so a read needs no BEGIN/COMMIT and takes its head from the same statement.
 *
 * A limit is bound as `LIMIT +?`, never a bare `LIMIT ?`: with the same plan, a bare LIMIT variable measured
 * 6–8 µs more per run of a short seek, ~40 µs more for the one-statement read (SQLite handles it specially).
 */
export function createQueryMatcher<Row extends MatchedRow>(db: Database.Database, columns: readonly string[]): QueryMatcher<Row> {
  const prepare = (sql: string, pluck: boolean) => prepareStatement<unknown>(db, sql, pluck ? 'pluck' : 'raw');

  // --- The legs every statement is built from. `j` is an item of a JSON array of [driving tag, other tags | null,
  // types | null]; each tests the candidate t.position of the driving tag's range.
  const otherTags = `(j.value ->> 1 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(j.value ->> 1) g
      WHERE NOT EXISTS (SELECT 1 FROM event_tags u WHERE u.tag = g.value AND u.position = t.position)))`;
  const ofTypes = `(j.value ->> 2 IS NULL
      OR (SELECT x.type FROM events x WHERE x.position = t.position) IN (SELECT value FROM json_each(j.value ->> 2)))`;

  // --- Condition checks: the first matching position after ?, one statement each.
  const firstEvent = prepare('SELECT position FROM events WHERE position > ? ORDER BY position LIMIT 1', true);
  const firstWithTag = prepare('SELECT position FROM event_tags WHERE tag = ? AND position > ? ORDER BY position LIMIT 1', true);
  // Items of one tag each, the shape of most decisions: five tags cost ~8 µs here, against ~40 µs as five statements.
  const firstWithTags = prepare(
    `SELECT min((SELECT position FROM event_tags WHERE tag = j.value AND position > @after ORDER BY position LIMIT 1))
     FROM json_each(@tags) j`,
    true,
  );
  const firstOfItems = prepare(
    `SELECT min(p) FROM (
       SELECT (SELECT t.position FROM event_tags t
               WHERE t.tag = j.value ->> 0 AND t.position > @after AND ${otherTags} AND ${ofTypes}
               ORDER BY t.position LIMIT 1) AS p
       FROM json_each(@items) j
       UNION ALL
       SELECT (SELECT position FROM events WHERE type = y.value AND position > @after ORDER BY position LIMIT 1)
       FROM json_each(@types) y)`,
    true,
  );

  // --- Reads in one statement. The first row is the snapshot's head (in the second column, position NULL so that it
  // sorts first), then the matching rows in position order: a read that matches nothing still has its head, from the
  // same snapshot as the (missing) rows. The matching positions are collected into an ordered set first (IN), so the
  // rows come by rowid in position order without a sort.
  const select = columns.map((c) => `e.${c}`).join(', ');
  const headRow = `SELECT NULL, coalesce(max(position), 0)${', NULL'.repeat(columns.length - 2)} FROM events`;
  const readWhere = (where: string) =>
    prepare(`${headRow} UNION ALL SELECT ${select} FROM events e WHERE ${where} ORDER BY 1 LIMIT +@limit`, false);
  const readEvery = readWhere('e.position >= @from');
  const readWithTags = readWhere(
    `e.position IN (SELECT t.position FROM json_each(@tags) j JOIN event_tags t ON t.tag = j.value AND t.position >= @from)`,
  );
  const readOfItems = readWhere(
    `e.position IN (
       SELECT t.position FROM json_each(@items) j JOIN event_tags t ON t.tag = j.value ->> 0 AND t.position >= @from
       WHERE ${otherTags} AND ${ofTypes}
       UNION ALL
       SELECT x.position FROM json_each(@types) y JOIN events x ON x.type = y.value AND x.position >= @from)`,
  );

  // --- Reads with a limit over tag or type items: each item's range read bounded by the limit, merged here, then the
  // rows, inside one read transaction. One statement would collect every matching position from `from` on before
  // the limit applies: a page of 100 from a tag of a million events would walk the million.
  const range = 'position >= ? AND position <= ? ORDER BY position LIMIT +?';
  const ofType = prepare(`SELECT position FROM events WHERE type = ? AND ${range}`, true);
  const withTag = prepare(`SELECT position FROM event_tags WHERE tag = ? AND ${range}`, true);
  // The correlated subqueries keep the scan driven by the one tag's index range, checking each candidate's other tags
  // by primary key and its type by rowid; a join would leave the planner free to start from another index.
  const withTagChecked = prepare(
    `SELECT t.position FROM event_tags t
     WHERE t.tag = ? AND t.position >= ? AND t.position <= ?
       AND NOT EXISTS (SELECT 1 FROM json_each(?) g
                       WHERE NOT EXISTS (SELECT 1 FROM event_tags u WHERE u.tag = g.value AND u.position = t.position))
       AND (? IS NULL OR (SELECT e.type FROM events e WHERE e.position = t.position) IN (SELECT value FROM json_each(?)))
     ORDER BY t.position LIMIT +?`,
    true,
  );
  const rowsAt = prepare(
    `SELECT ${select} FROM events e WHERE e.position IN (SELECT value FROM json_each(?)) ORDER BY e.position`,
    false,
  );
  const selectHead = prepare('SELECT coalesce(max(position), 0) FROM events', true);
  const sampleTag = prepare(
    `SELECT count(*) FROM (SELECT 1 FROM event_tags WHERE tag = ? AND position >= ? LIMIT ${RARITY_SAMPLE})`,
    true,
  );

  // The index of the tag whose range is shortest from `from` on (of those sampled): the scan visits fewest candidates.
  function rarest(tags: readonly string[], from: number): number {
    let best = 0;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < tags.length; i++) {
      const count = sampleTag.get(tags[i], from) as number;
      if (count < bestCount) {
        best = i;
        bestCount = count;
        if (count === 0) break;
      }
    }
    return best;
  }

  // The statement parameters of a query without `{}`: `tags` when every item is one tag alone, else `items` (the tag
  // items as [driving tag, other tags, types]) and `types` (those of the items without tags).
  type Shape = { tags: string } | { items: string; types: string };
  function shapeOf(query: Query, from: number): Shape {
    if (query.every((item) => item.types === undefined && item.tags?.length === 1)) {
      return { tags: JSON.stringify(query.map((item) => (item.tags as string[])[0])) };
    }
    const items: Array<[string, string[] | null, readonly string[] | null]> = [];
    const types: string[] = [];
    for (const { tags, types: itemTypes } of query) {
      if (tags === undefined) types.push(...(itemTypes ?? []));
      else {
        const driver = tags.length === 1 ? 0 : rarest(tags, from);
        const others = tags.length === 1 ? null : tags.filter((_, i) => i !== driver);
        items.push([tags[driver], others, itemTypes ?? null]);
      }
    }
    return { items: JSON.stringify(items), types: JSON.stringify(types) };
  }

  const matchesEvery = (query: Query) => query.some((item) => item.tags === undefined && item.types === undefined);

  // One row of head, then the events (see readWhere).
  function readOne(statement: ReturnType<typeof prepare>, params: Record<string, unknown>, limit: number) {
    const all = statement.all({ ...params, limit: limit === NO_BOUND ? -1 : limit + 1 }) as unknown[][];
    const rows = all.slice(1) as Row[];
    return { rows, head: rows.length === limit ? rows[limit - 1][0] : (all[0][1] as number) };
  }

  // The limited read of tag or type items (see above); the caller holds the read transaction.
  function readPage(query: Query, from: number, limit: number): { rows: Row[]; head: number } {
    const positions = pagePositions(query, from, limit);
    const rows = positions.length === 0 ? [] : (rowsAt.all(JSON.stringify(positions)) as Row[]);
    return { rows, head: rows.length === limit ? rows[limit - 1][0] : (selectHead.get() as number) };
  }

  // The positions ≥ `from` matching the query, ascending, at most `limit`: each item a range read bounded by the limit,
  // and once `limit` positions are known, later items only look below the last of them.
  function pagePositions(query: Query, from: number, limit: number): number[] {
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
    for (const item of query as readonly QueryItem[]) {
      const { tags, types } = item;
      if (tags === undefined) {
        for (const type of types ?? []) add(ofType.all(type, from, upto, limit) as number[]);
      } else if (tags.length === 1 && types === undefined) {
        add(withTag.all(tags[0], from, upto, limit) as number[]);
      } else {
        const driver = tags.length === 1 ? 0 : rarest(tags, from);
        const others = JSON.stringify(tags.filter((_, i) => i !== driver));
        const typesJson = types === undefined ? null : JSON.stringify(types);
        add(withTagChecked.all(tags[driver], from, upto, others, typesJson, typesJson, limit) as number[]);
      }
    }
    return found;
  }

  const snapshot = db.transaction(readPage);

  return {
    firstAfter(query, after) {
      let first: unknown;
      if (matchesEvery(query)) first = firstEvent.get(after);
      else if (query.length === 1 && query[0].types === undefined && query[0].tags?.length === 1) {
        first = firstWithTag.get(query[0].tags[0], after);
      } else {
        const shape = shapeOf(query, after + 1);
        first = 'tags' in shape ? firstWithTags.get({ after, ...shape }) : firstOfItems.get({ after, ...shape });
      }
      return (first ?? undefined) as number | undefined;
    },

    read(query, from, limit) {
      if (matchesEvery(query)) return readOne(readEvery, { from }, limit);
      if (limit === NO_BOUND) {
        const shape = shapeOf(query, from);
        return readOne('tags' in shape ? readWithTags : readOfItems, { from, ...shape }, limit);
      }
      try {
        return snapshot.deferred(query, from, limit);
      } catch (err) {
        throw storeError(err, 'BEGIN DEFERRED');
      }
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
