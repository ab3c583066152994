import { describe, expect, it } from 'vitest';
import { createTranslator, inline, literal, literals, renameGenerations, translate } from './read-store-sql.js';

const dollars = (sql: string) => translate(sql).text;

describe('placeholders', () => {
  it('numbers every ? outside literals, identifiers and comments', () => {
    expect(dollars('SELECT * FROM t WHERE a = ? AND b IN (?, ?)')).toBe('SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)');
    expect(dollars("SELECT '?', 'it''s ?', ? FROM t")).toBe("SELECT '?', 'it''s ?', $1 FROM t");
    expect(dollars('SELECT "what?" , "a""?" FROM t WHERE x = ?')).toBe('SELECT "what?" , "a""?" FROM t WHERE x = $1');
    expect(dollars('SELECT 1 -- really?\nWHERE a = ?')).toBe('SELECT 1 -- really?\nWHERE a = $1');
    expect(dollars('SELECT /* one? /* nested? */ still? */ ?')).toBe('SELECT /* one? /* nested? */ still? */ $1');
    expect(dollars('SELECT a-?')).toBe('SELECT a-$1');
  });

  it("reads backslash escapes only in E'…' strings (standard_conforming_strings is on)", () => {
    expect(dollars("SELECT E'it\\'s ?', ?")).toBe("SELECT E'it\\'s ?', $1");
    expect(dollars("SELECT e'\\\\', ?")).toBe("SELECT e'\\\\', $1");
    // In a plain literal a backslash is a character: the literal ends at the next quote.
    expect(dollars("SELECT 'a\\', ?")).toBe("SELECT 'a\\', $1");
    // `date'…'` and `type'…'` are typed literals, not E-strings.
    expect(dollars("SELECT date'2020-01-01', typee'x\\', ?")).toBe("SELECT date'2020-01-01', typee'x\\', $1");
  });

  it('skips dollar-quoted bodies, with or without a tag, but not $1 or $ inside a word', () => {
    expect(dollars('CREATE FUNCTION f() RETURNS int AS $$ SELECT ? $$ LANGUAGE sql')).toBe(
      'CREATE FUNCTION f() RETURNS int AS $$ SELECT ? $$ LANGUAGE sql',
    );
    expect(dollars('SELECT $body$ ? $$ ? $body$, ?')).toBe('SELECT $body$ ? $$ ? $body$, $1');
    expect(dollars('SELECT a$b, ? FROM t')).toBe('SELECT a$b, $1 FROM t');
    expect(dollars('SELECT $1')).toBe('SELECT $1');
  });

  it('keeps the text around the placeholders for writing values in', () => {
    const t = translate("UPDATE t SET a = ?, b = '?' WHERE id = ?");
    expect(t.parts).toEqual(['UPDATE t SET a = ', ", b = '?' WHERE id = ", '']);
    expect(inline(t, ["'x'", "'1'"])).toBe("UPDATE t SET a = 'x', b = '?' WHERE id = '1'");
  });

  it('refuses more than one statement, allows a trailing semicolon', () => {
    expect(() => translate('DELETE FROM a; DELETE FROM b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(dollars('DELETE FROM a WHERE x = ?; -- done\n')).toBe('DELETE FROM a WHERE x = $1');
    expect(dollars('SELECT \';\', ";" FROM t /* ; */')).toBe('SELECT \';\', ";" FROM t /* ; */');
  });

  it('refuses unterminated literals, identifiers and comments, where a ? would be misread', () => {
    for (const sql of ["SELECT 'x", 'SELECT "x', 'SELECT /* x', 'SELECT $a$ x', "SELECT E'\\'"]) {
      expect(() => translate(sql), sql).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('says which statements PREPARE takes', () => {
    for (const sql of [
      'SELECT 1',
      ' insert into t values (?)',
      'UPDATE t SET a = 1',
      'delete from t',
      'WITH x AS (SELECT 1) SELECT * FROM x',
      '(SELECT 1)',
      'VALUES (1)',
    ]) {
      expect(translate(sql).preparable, sql).toBe(true);
    }
    for (const sql of ['CREATE TABLE t (a int)', 'CREATE INDEX i ON t (a)', 'DROP TABLE t', 'TRUNCATE t', 'selection']) {
      expect(translate(sql).preparable, sql).toBe(false);
    }
  });
});

describe('generation tables', () => {
  it("finds the projections whose generations' tables a statement names", () => {
    const t = translate(
      'SELECT * FROM "s"."orders__items__g3" i JOIN "s"."orders__totals__g3" t USING (id) JOIN "catalog__products__g12" p ON p.id = ?',
    );
    expect(t.tables).toEqual([
      { projection: 'orders', generation: 3 },
      { projection: 'catalog', generation: 12 },
    ]);
    expect(translate('SELECT "not__a_table", "x__y__gz", \'"a__b__g1"\' FROM "plain"').tables).toEqual([]);
  });

  it('renames them to the generations given, leaving literals, other projections and other names alone', () => {
    const sql =
      'SELECT \'"orders__items__g3"\', * FROM "s"."orders__items__g3" JOIN "catalog__products__g1" USING (id) WHERE "orders__items__g3".a = ?';
    expect(renameGenerations(sql, new Map([['orders', 4]]))).toBe(
      'SELECT \'"orders__items__g3"\', * FROM "s"."orders__items__g4" JOIN "catalog__products__g1" USING (id) WHERE "orders__items__g4".a = ?',
    );
    expect(renameGenerations('SELECT * FROM "s"."orders__items__g0"', new Map([['orders', 17]]))).toBe(
      'SELECT * FROM "s"."orders__items__g17"',
    );
  });
});

describe('literals', () => {
  it('renders each SqlValue as the text pg would send for a parameter, quoted so its type is inferred alike', () => {
    expect(literal('plain')).toBe("'plain'");
    expect(literal("it's")).toBe("'it''s'");
    expect(literal('back\\slash')).toBe(" E'back\\\\slash'");
    expect(literal(42)).toBe("'42'");
    // Quoted, a negative number cannot turn `a-?` into a comment.
    expect(literal(-5)).toBe("'-5'");
    expect(literal(1.5e300)).toBe("'1.5e+300'");
    expect(literal(Number.NaN)).toBe("'NaN'");
    expect(literal(2n ** 70n)).toBe("'1180591620717411303424'");
    expect(literal(true)).toBe("'true'");
    expect(literal(false)).toBe("'false'");
    expect(literal(null)).toBe('NULL');
    expect(inline(translate('SELECT a-?'), [literal(-5)])).toBe("SELECT a-'-5'");
  });

  it('refuses what PostgreSQL cannot take or a SqlValue is not', () => {
    expect(() => literal('a\0b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { sqlState: '22021' } }));
    for (const value of [undefined, {}, [], new Date(0), Symbol('s')]) {
      expect(() => literal(value as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('checks the number of parameters against the placeholders', () => {
    expect(literals('SELECT ?, ?', 2, ['a', 1])).toEqual(["'a'", "'1'"]);
    expect(() => literals('SELECT ?, ?', 2, ['a'])).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { sql: 'SELECT ?, ?', expected: 2, given: 1 } }),
    );
    expect(() => literals('SELECT 1', 0, [1])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(literals('SELECT 1', 0, undefined)).toEqual([]);
  });
});

describe('createTranslator', () => {
  it('answers a statement it has seen with the same translation', () => {
    const translator = createTranslator(2);
    const sql = (n: number) => `SELECT ${n}, ?`;
    const first = translator(sql(1));
    expect(translator(`SELECT ${1}, ?`)).toBe(first);
    for (let n = 2; n < 10; n++) translator(sql(n));
    expect(translator(sql(1))).toEqual(first);
    expect(translator(sql(9)).text).toBe('SELECT 9, $1');
  });
});
