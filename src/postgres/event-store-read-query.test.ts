// The statement of read(query): a prepared statement's name stands for one text only (node-postgres refuses a name
// prepared with another text), and parameters are numbered after the three fixed ones.
import type { QueryItem } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { readQuerySql } from './event-store-read-query.js';

const columns = ['position', 'id'];
const shapes: QueryItem[][] = [
  [{ tags: ['a'] }],
  [{ tags: ['a', 'b'] }],
  [{ tags: ['a', 'b', 'c'] }],
  [{ tags: ['a'], types: ['T'] }],
  [{ tags: ['a', 'b'], types: ['T', 'U'] }],
  [{ types: ['T'] }],
  [{ types: ['T', 'U', 'V'] }],
  [{}],
];

describe('read(query) statements', () => {
  it('one name, one text, whatever the values: every combination of up to three item shapes', () => {
    const texts = new Map<string, string>();
    const check = (items: QueryItem[], values: string) => {
      const withValues = items.map((item) => ({
        ...(item.tags && { tags: item.tags.map((t) => `${t}${values}`) }),
        ...(item.types && { types: item.types.map((t) => `${t}${values}`) }),
      }));
      const statement = readQuerySql('"s"', 's', columns, withValues, 1, 9, null);
      if (statement.name === undefined) return;
      const seen = texts.get(statement.name);
      if (seen !== undefined) expect(statement.text).toBe(seen);
      texts.set(statement.name, statement.text);
    };
    for (const a of shapes) {
      check(a, 'x');
      check(a, 'y');
      for (const b of shapes) {
        check([...a, ...b], 'x');
        for (const c of shapes) check([...a, ...b, ...c], 'y');
      }
    }
    expect(texts.size).toBeGreaterThan(100);
  });

  it('numbers each item’s parameters after from, bound and limit, and names no statement past three items', () => {
    const { text, values, name } = readQuerySql(
      '"s"',
      's',
      columns,
      [{ tags: ['a', 'b'], types: ['T'] }, { types: ['U'] }],
      5,
      9,
      10,
    );
    expect(values).toEqual([5, 9, 10, 'a', ['a', 'b'], ['T'], ['U']]);
    expect(text).toContain('et.tag = $4');
    expect(text).toContain('ANY ($5::text[])) = cardinality($5::text[])');
    expect(text).toContain('unnest($7::text[])');
    expect(name).toBe('chronicle_rq_tny_y_s');
    expect(
      readQuerySql('"s"', 's', columns, [{ tags: ['a'] }, { tags: ['b'] }, { tags: ['c'] }, { tags: ['d'] }], 0, 9, null).name,
    ).toBeUndefined();
    // A {} item makes the query every event: the other items are left out.
    expect(readQuerySql('"s"', 's', columns, [{ tags: ['a'] }, {}], 0, 9, null)).toMatchObject({
      values: [0, 9, null],
      name: 'chronicle_rq_a_s',
    });
  });
});
