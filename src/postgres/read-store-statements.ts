// Statements the read store sends many at a time: one simple-protocol query per flush, in which each projection
// statement is EXECUTEd from a statement PREPAREd once per session (planning a point upsert costs about as much as
// running it). The sessions are the pool's; what each has prepared is tracked here, per connection.
import { randomBytes } from 'node:crypto';
import { ChronicleError } from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { sqlState } from './pg-error.js';
import { inline, type Translation } from './read-store-sql.js';

/** A statement ready to send: its translation and its values as literals. */
export type Statement = { translation: Translation; args: readonly string[] };

type Session = {
  /** Prepared statement names by `<search path>\0<text>`, least recently used first. */
  names: Map<string, string>;
  /** Names this module prepared that are no longer wanted, deallocated with the next query. */
  stale: string[];
};

// Per process, so two copies of this module sharing a pool never reuse each other's names.
const PREFIX = `chronicle_rs_${randomBytes(3).toString('hex')}_`;
const MAX_PREPARED = 256;
let nextName = 0;
const sessions = new WeakMap<pg.ClientBase, Session>();

/**
 * The session's state, checking on first sight that the server reads string literals as the store writes them.
 * @throws STORE_ERROR when standard_conforming_strings is off (backslashes in handlers' literals would be escapes)
 */
export async function sessionOf(client: pg.ClientBase): Promise<Session> {
  let session = sessions.get(client);
  if (!session) {
    // A session the server ends while checked out (idle_in_transaction_session_timeout, a restart) emits 'error' on
    // the client, which without a listener would crash the process; the failed query reports it instead.
    client.on('error', () => {});
    const { rows } = await client.query<{ standard_conforming_strings: string }>('SHOW standard_conforming_strings');
    if (rows[0]?.standard_conforming_strings !== 'on') {
      throw new ChronicleError('STORE_ERROR', 'postgres: the read store needs standard_conforming_strings = on', {
        details: { operation: 'opening a session' },
      });
    }
    session = { names: new Map(), stale: [] };
    sessions.set(client, session);
  }
  return session;
}

/** One query's text, and which of its results is the last statement's (the read, when a flush ends with one). */
export type Composed = { text: string; last: number };

/**
 * The text of one simple-protocol query running `before`, then `statements` in order, then `after`. Statements
 * PREPARE takes are prepared (once per session and search path) and EXECUTEd; the rest are sent with their values
 * written in (all of them, without `prepare`). Whatever fails, call {@link resync} before the session's next query.
 */
export function compose(
  session: Session,
  searchPath: string,
  before: readonly string[],
  statements: readonly Statement[],
  after: readonly string[],
  prepare = true,
): Composed {
  const out = [...before];
  for (const { translation, args } of statements) {
    if (!prepare || !translation.preparable) {
      out.push(inline(translation, args));
      continue;
    }
    const key = `${searchPath}\0${translation.text}`;
    let name = session.names.get(key);
    if (name === undefined) {
      name = `${PREFIX}${++nextName}`;
      out.push(`PREPARE ${name} AS ${translation.text}`);
    } else {
      session.names.delete(key);
    }
    session.names.set(key, name);
    out.push(args.length === 0 ? `EXECUTE ${name}` : `EXECUTE ${name}(${args.join(', ')})`);
  }
  const last = out.length - 1;
  out.push(...after);
  // Deallocated last: a statement evicted now may have been executed above.
  for (const name of session.stale.splice(0)) out.push(`DEALLOCATE ${name}`);
  if (session.names.size > MAX_PREPARED) {
    for (const [key, name] of session.names) {
      if (session.names.size <= MAX_PREPARED) break;
      session.names.delete(key);
      out.push(`DEALLOCATE ${name}`);
    }
  }
  return { text: out.join(';\n'), last };
}

// A prepared SELECT * whose table changed shape since (a handler's ALTER TABLE) fails with this until it is
// prepared again.
const PLAN_CHANGED = '0A000';

/**
 * After a failed query, learns which of this module's statements the session really holds: PREPARE is not undone
 * by a rollback, and the statements after the failing one never ran. After `failure` said a cached plan no longer
 * fits its tables, every statement is prepared afresh. Run outside any aborted transaction.
 */
export async function resync(client: pg.ClientBase, session: Session, failure?: unknown): Promise<void> {
  const { rows } = await client.query<{ name: string }>({
    text: 'SELECT name FROM pg_prepared_statements WHERE starts_with(name, $1)',
    values: [PREFIX],
    types,
  });
  const held = new Set(rows.map((r) => r.name));
  const known = new Set<string>();
  const replan = sqlState(failure) === PLAN_CHANGED;
  for (const [key, name] of session.names) {
    if (held.has(name) && !replan) known.add(name);
    else session.names.delete(key);
  }
  session.stale = [...held].filter((name) => !known.has(name));
}

/** The result of statement `index` of a query (pg answers a one-statement query with the result alone). */
export function resultAt(result: pg.QueryResult | pg.QueryResult[], index: number): pg.QueryResult {
  return Array.isArray(result) ? result[index] : result;
}
