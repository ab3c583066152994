// The SQL of read(query): the events matching any item of a query, between a position and the safe head, in position
// order, with the head the read covers, in one statement.
import type { QueryItem } from 'chronicle-es';

/** A statement for pg: text, values, and a name when its shape is one of few (prepared once per connection). */
export type ReadQueryStatement = { text: string; values: unknown[]; name?: string };

// Queries of up to this many items get a named (prepared) statement per shape; each item has one of five shapes, so
// a connection prepares at most a few hundred. Longer queries are planned on each call.
const NAMED_UP_TO_ITEMS = 3;

/**
 * The statement for `items` (already stripped of types no event can have, see sqlCondition) on the quoted schema `s`:
 * parameters $1 from, $2 the safe head, $3 the limit (null for none). Each row is [head, …event columns]; one row with
 * null event columns when nothing matches. `head` is the last event at or below the safe head.
 */
export function readQuerySql(
  s: string,
  schemaName: string,
  columns: readonly string[],
  items: readonly QueryItem[],
  from: number,
  bound: number,
  limit: number | null,
): ReadQueryStatement {
  const values: unknown[] = [from, bound, limit];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const range = (col: string) => `${col} >= $1 AND ${col} <= $2`;
  const every = items.some((item) => item.tags === undefined && item.types === undefined);
  const shapes: string[] = [];
  const branches: string[] = [];
  if (every) {
    shapes.push('a');
    branches.push(`SELECT position FROM ${s}.events WHERE ${range('position')} ORDER BY position LIMIT $3`);
  } else {
    for (const item of items) {
      if (item.tags === undefined) {
        shapes.push('y');
        // Per type a range of events_type; row comparisons, so no plan walks the primary key instead (see the check).
        branches.push(
          `SELECT x.position FROM unnest(${param(item.types)}::text[]) AS t(type) CROSS JOIN LATERAL (
            SELECT e.position FROM ${s}.events e WHERE (e.type, e.position) >= (t.type, $1) AND (e.type, e.position) <= (t.type, $2)
            ORDER BY e.type, e.position LIMIT $3) x`,
        );
        continue;
      }
      // The first tag drives an ordered walk of its index; the others and the types are looked up per position.
      const tags = item.tags;
      let where = `et.tag = ${param(tags[0])} AND ${range('et.position')}`;
      if (tags.length > 1) {
        const all = param(tags);
        where += ` AND (SELECT count(*) FROM ${s}.event_tags o WHERE o.position = et.position
          AND o.tag = ANY (${all}::text[])) = cardinality(${all}::text[])`;
      }
      if (item.types !== undefined) {
        where += ` AND EXISTS (SELECT 1 FROM ${s}.events x WHERE x.position = et.position
          AND x.type = ANY (${param(item.types)}::text[]))`;
      }
      shapes.push(`t${tags.length > 1 ? 'n' : '1'}${item.types === undefined ? '' : 'y'}`);
      branches.push(`SELECT et.position FROM ${s}.event_tags et WHERE ${where} ORDER BY et.position LIMIT $3`);
    }
  }
  // Each branch is cut at the limit too: the first `limit` positions of the union are among the first `limit` of each.
  const union = branches.map((b) => `(${b})`).join(' UNION ');
  const text = `SELECT h.head, ${columns.map((c) => `e.${c}`).join(', ')}
    FROM (SELECT max(position) AS head FROM ${s}.events WHERE position <= $2) h
    LEFT JOIN LATERAL (
      SELECT ev.* FROM (${union}) m JOIN ${s}.events ev ON ev.position = m.position ORDER BY m.position LIMIT $3
    ) e ON true
    ORDER BY e.position`;
  // The shape first: PostgreSQL keeps the first 63 bytes of a statement name.
  const name = shapes.length <= NAMED_UP_TO_ITEMS ? `chronicle_rq_${shapes.join('_')}_${schemaName}` : undefined;
  return { text, values, name };
}
