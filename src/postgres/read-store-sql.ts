// Projection SQL on PostgreSQL: handlers write positional `?` placeholders (portable with SQLite); the read store
// finds them outside string literals, quoted identifiers and comments, and sends the values as literals, so that
// many statements can travel in one simple-protocol query.
import { ChronicleError, type SqlValue } from 'chronicle-es';
import pg from 'pg';

/** A generation's table named in a statement: the quoted identifier `"<projection>__<table>__g<generation>"`. */
export type TableRef = { projection: string; generation: number };

/** One statement as the read store sends it. */
export type Translation = {
  /** The statement with its placeholders as `$1`, `$2`…, for PREPARE. */
  readonly text: string;
  /** The text around the placeholders (one more than their number), for rendering the values in. */
  readonly parts: readonly string[];
  /** Projections whose generations' tables the statement names, once each. */
  readonly tables: readonly TableRef[];
  /** A single SELECT/INSERT/UPDATE/DELETE/MERGE/VALUES (or WITH …): the kinds PREPARE takes. */
  readonly preparable: boolean;
};

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const GENERATION_TABLE = /^([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*)__[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__g(\d+)$/;
const PREPARABLE = /^\s*\(*\s*(?:select|insert|update|delete|merge|values|with|table)\b/i;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

type Token = { kind: 'placeholder' | 'identifier' | 'semicolon'; start: number; end: number };

/**
 * The tokens of `sql` that matter here, in order. Assumes standard_conforming_strings = on (backslashes are plain
 * in '…', escapes only in E'…'), which the store checks on every session. Dollar-quoted bodies ($$…$$, $tag$…$tag$),
 * nested block comments and "…" identifiers are skipped whole.
 * @throws INVALID_ARGUMENT on an unterminated literal, identifier or comment (where a `?` would be mistaken)
 */
function scan(sql: string): Token[] {
  const tokens: Token[] = [];
  const n = sql.length;
  const unterminated = (what: string, at: number) =>
    new ChronicleError('INVALID_ARGUMENT', `unterminated ${what} at offset ${at} in SQL`, { details: { sql } });
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 63 /* ? */) {
      tokens.push({ kind: 'placeholder', start: i, end: i + 1 });
      i++;
    } else if (c === 39 /* ' */) {
      const prev = i > 0 ? sql[i - 1] : '';
      const escapes = (prev === 'e' || prev === 'E') && (i < 2 || !IDENT_CHAR.test(sql[i - 2]));
      let j = i + 1;
      for (;;) {
        if (j >= n) throw unterminated('string literal', i);
        const d = sql.charCodeAt(j);
        if (escapes && d === 92 /* \ */) j += 2;
        else if (d === 39) {
          if (sql.charCodeAt(j + 1) === 39) j += 2;
          else break;
        } else j++;
      }
      i = j + 1;
    } else if (c === 34 /* " */) {
      let j = i + 1;
      for (;;) {
        const close = sql.indexOf('"', j);
        if (close < 0) throw unterminated('quoted identifier', i);
        if (sql.charCodeAt(close + 1) === 34) j = close + 2;
        else {
          j = close;
          break;
        }
      }
      tokens.push({ kind: 'identifier', start: i, end: j + 1 });
      i = j + 1;
    } else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      const eol = sql.indexOf('\n', i + 2);
      i = eol < 0 ? n : eol + 1;
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) {
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= n) throw unterminated('block comment', i);
        if (sql.charCodeAt(j) === 47 && sql.charCodeAt(j + 1) === 42) {
          depth++;
          j += 2;
        } else if (sql.charCodeAt(j) === 42 && sql.charCodeAt(j + 1) === 47) {
          depth--;
          j += 2;
        } else j++;
      }
      i = j;
    } else if (c === 36 /* $ */ && (i === 0 || !IDENT_CHAR.test(sql[i - 1]))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 66))?.[0];
      if (tag === undefined) {
        i++; // `$1`: a parameter the handler wrote itself, left as it is
      } else {
        const close = sql.indexOf(tag, i + tag.length);
        if (close < 0) throw unterminated('dollar-quoted string', i);
        i = close + tag.length;
      }
    } else if (c === 59 /* ; */) {
      tokens.push({ kind: 'semicolon', start: i, end: i + 1 });
      i++;
    } else if (IDENT_CHAR.test(sql[i])) {
      // Skip the rest of a word at once, so `e'` inside `date'…'` or a `$` inside `a$b` is read as a word's.
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(sql[j])) j++;
      i = j;
    } else {
      i++;
    }
  }
  return tokens;
}

/**
 * Reads one statement: where its placeholders are, which generations' tables it names, whether PREPARE takes it.
 * A trailing `;` is dropped. @throws INVALID_ARGUMENT for more than one statement or an unterminated literal
 */
export function translate(sql: string): Translation {
  const tokens = scan(sql);
  let end = sql.length;
  const semicolons = tokens.filter((t) => t.kind === 'semicolon');
  if (semicolons.length > 0) {
    const last = semicolons[semicolons.length - 1];
    if (semicolons.length > 1 || !isBlank(sql, last.end)) {
      throw new ChronicleError('INVALID_ARGUMENT', 'one statement per call: the SQL holds more than one', { details: { sql } });
    }
    end = last.start;
  }
  const parts: string[] = [];
  let text = '';
  let from = 0;
  const tables: TableRef[] = [];
  for (const token of tokens) {
    if (token.start >= end) break;
    if (token.kind === 'placeholder') {
      parts.push(sql.slice(from, token.start));
      text += `${sql.slice(from, token.start)}$${parts.length}`;
      from = token.end;
    } else if (token.kind === 'identifier') {
      const match = GENERATION_TABLE.exec(sql.slice(token.start + 1, token.end - 1));
      if (match && !tables.some((t) => t.projection === match[1])) {
        tables.push({ projection: match[1], generation: Number(match[2]) });
      }
    }
  }
  parts.push(sql.slice(from, end));
  text += sql.slice(from, end);
  return { text, parts, tables, preparable: PREPARABLE.test(text) };
}

// Whitespace and comments only from `from` on (what may follow a statement's closing `;`).
function isBlank(sql: string, from: number): boolean {
  return (
    sql
      .slice(from)
      .replace(/--[^\n]*/g, '')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .trim() === ''
  );
}

/**
 * `sql` with every table of the projections in `generations` renamed to that generation: a reader's statement
 * built before another process swapped a rebuild in (whose old tables are dropped) names the served tables again.
 */
export function renameGenerations(sql: string, generations: ReadonlyMap<string, number>): string {
  let out = '';
  let from = 0;
  for (const token of scan(sql)) {
    if (token.kind !== 'identifier') continue;
    const name = sql.slice(token.start + 1, token.end - 1);
    const match = GENERATION_TABLE.exec(name);
    const generation = match && generations.get(match[1]);
    if (!match || generation === undefined) continue;
    out += `${sql.slice(from, token.start)}"${name.slice(0, name.length - match[2].length)}${generation}"`;
    from = token.end;
  }
  return out + sql.slice(from);
}

// What PostgreSQL says when it meets a NUL in text (it cannot store one); refused here before it is sent.
const NUL = /\0/;

/**
 * `value` as a string literal of unknown type, exactly the text node-postgres would send it as a parameter, so the
 * server infers its type from the statement just as it does for a parameter. Safe with either
 * standard_conforming_strings (pg's escapeLiteral switches to E'…' when it doubles backslashes).
 * @throws INVALID_ARGUMENT for a value that is not a SqlValue, or a string holding NUL (PostgreSQL text cannot)
 */
export function literal(value: SqlValue): string {
  switch (typeof value) {
    case 'string':
      if (NUL.test(value)) {
        // The caller's value, not the store, is at fault: a query parameter holding it is a 400, never a 500.
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          'a string holding NUL (\\u0000) cannot be stored in or compared with PostgreSQL text',
          {
            details: { sqlState: '22021' },
          },
        );
      }
      return pg.escapeLiteral(value);
    case 'number':
    case 'bigint':
      return `'${value}'`;
    case 'boolean':
      return value ? "'true'" : "'false'";
    case 'object':
      if (value === null) return 'NULL';
  }
  throw new ChronicleError(
    'INVALID_ARGUMENT',
    `a SQL parameter must be a string, number, bigint, boolean or null; got ${typeof value === 'object' ? Object.prototype.toString.call(value) : typeof value}`,
  );
}

/** The literals of `params` for a statement with `count` placeholders. @throws INVALID_ARGUMENT wrong count or value */
export function literals(sql: string, count: number, params: readonly SqlValue[] | undefined): string[] {
  const given = params?.length ?? 0;
  if (given !== count) {
    throw new ChronicleError('INVALID_ARGUMENT', `the SQL has ${count} placeholders but ${given} parameters were given`, {
      details: { sql, expected: count, given },
    });
  }
  const out = new Array<string>(given);
  for (let i = 0; i < given; i++) out[i] = literal(params![i]);
  return out;
}

/** The statement with its values written in. */
export function inline(translation: Translation, args: readonly string[]): string {
  const { parts } = translation;
  let out = parts[0];
  for (let i = 0; i < args.length; i++) out += args[i] + parts[i + 1];
  return out;
}

const RECENT = 4;

/**
 * translate(), remembering what it has read: handlers send the same few statements with every event. A handler
 * builds its SQL string anew each time, and hashing a long fresh string for a Map costs more than comparing it with
 * the few statements used last, so those are tried first.
 */
export function createTranslator(max = 1000): (sql: string) => Translation {
  const cache = new Map<string, Translation>();
  const recentSql: string[] = [];
  const recent: Translation[] = [];
  return (sql) => {
    for (let i = 0; i < recentSql.length; i++) if (recentSql[i] === sql) return recent[i];
    let translation = cache.get(sql);
    if (!translation) {
      translation = translate(sql);
      if (cache.size >= max) cache.clear();
      cache.set(sql, translation);
    }
    recentSql.unshift(sql);
    recent.unshift(translation);
    if (recentSql.length > RECENT) {
      recentSql.pop();
      recent.pop();
    }
    return translation;
  };
}
