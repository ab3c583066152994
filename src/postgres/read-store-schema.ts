// Tables the PostgreSQL read store keeps about projections (records, skips, workers, leases), the two functions
// that check a write inside its own transaction, and the names of projections' own tables.
import { ChronicleError } from 'chronicle-es';
import type { Migration } from './migrate.js';

/** SQLSTATE raised by chronicle_checkpoint: the checkpoint is not where the batch starts (CONCURRENCY_CONFLICT). */
export const CHECKPOINT_MOVED = 'CR001';
/** SQLSTATE raised by chronicle_fence: the lease the write is made under is not the projection's current one. */
export const LEASE_GONE = 'CR002';

export const READ_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'projections, skips, workers, leases, checkpoint and fence checks',
    sql: (s) => `
CREATE TABLE ${s}.chronicle_projections (
  name text PRIMARY KEY,
  version integer NOT NULL DEFAULT 0,
  generation integer NOT NULL DEFAULT 0,
  position bigint NOT NULL DEFAULT 0,
  last_generation integer NOT NULL DEFAULT 0,
  rebuild_generation integer,
  rebuild_version integer,
  rebuild_position bigint,
  failure jsonb
);
CREATE TABLE ${s}.chronicle_projection_skips (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  position bigint NOT NULL,
  event_id text NOT NULL,
  type text NOT NULL,
  failure jsonb NOT NULL,
  skipped_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX chronicle_projection_skips_name ON ${s}.chronicle_projection_skips (name, id);
CREATE TABLE ${s}.chronicle_workers (
  id text PRIMARY KEY,
  last_seen timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
-- A lease row stays after it expires or is released, so the next holder's token is above every earlier one.
CREATE TABLE ${s}.chronicle_leases (
  projection text PRIMARY KEY,
  owner text NOT NULL,
  token bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  released boolean NOT NULL DEFAULT false
);

-- Refuses (CR002) a write whose lease is not the projection's current one. FOR SHARE holds the lease row until the
-- write's transaction ends: a takeover (an UPDATE of that row) waits for it, and one that committed first is seen,
-- since a locking read at READ COMMITTED always reads the newest committed row.
CREATE FUNCTION ${s}.chronicle_fence(p_projection text, p_owner text, p_token bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_owner text;
  v_token bigint;
  v_released boolean;
BEGIN
  SELECT owner, token, released INTO v_owner, v_token, v_released
  FROM ${s}.chronicle_leases WHERE projection = p_projection FOR SHARE;
  IF v_owner IS DISTINCT FROM p_owner OR v_token IS DISTINCT FROM p_token OR v_released THEN
    RAISE EXCEPTION USING ERRCODE = '${LEASE_GONE}',
      MESSAGE = format('projection %s: the lease of %s (token %s) is gone', p_projection, p_owner, p_token),
      DETAIL = json_build_object('projection', p_projection, 'owner', v_owner, 'token', v_token, 'released', v_released,
        'fence', json_build_object('owner', p_owner, 'token', p_token))::text;
  END IF;
END $fn$;

-- The checkpoint compare-and-set of a batch, first in its transaction: locks the projection's row (so batches of one
-- projection commit one at a time), refuses (CR001) a generation that is neither active nor rebuilding or a
-- checkpoint that is not p_after (NULL: unconditional), then moves it to p_checkpoint.
CREATE FUNCTION ${s}.chronicle_checkpoint(p_name text, p_generation integer, p_checkpoint bigint, p_after bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  r record;
  v_actual bigint;
BEGIN
  SELECT generation, position, rebuild_generation, rebuild_position INTO r
  FROM ${s}.chronicle_projections WHERE name = p_name FOR UPDATE;
  IF FOUND AND p_generation > 0 AND r.generation = p_generation THEN
    v_actual := r.position;
  ELSIF FOUND AND p_generation > 0 AND r.rebuild_generation = p_generation THEN
    v_actual := r.rebuild_position;
  ELSE
    RAISE EXCEPTION USING ERRCODE = '${CHECKPOINT_MOVED}',
      MESSAGE = format('projection %s: generation %s is not being written', p_name, p_generation),
      DETAIL = json_build_object('projection', p_name, 'generation', p_generation)::text;
  END IF;
  IF p_after IS NOT NULL AND v_actual <> p_after THEN
    RAISE EXCEPTION USING ERRCODE = '${CHECKPOINT_MOVED}',
      MESSAGE = format('projection %s: checkpoint of generation %s is %s, not %s', p_name, p_generation, v_actual, p_after),
      DETAIL = json_build_object('projection', p_name, 'generation', p_generation, 'expected', p_after,
        'actual', v_actual)::text;
  END IF;
  IF r.generation = p_generation THEN
    UPDATE ${s}.chronicle_projections SET position = p_checkpoint WHERE name = p_name;
  ELSE
    UPDATE ${s}.chronicle_projections SET rebuild_position = p_checkpoint WHERE name = p_name;
  END IF;
END $fn$;
`,
  },
  {
    version: 2,
    name: 'control requests',
    sql: (s) => `
CREATE TABLE ${s}.chronicle_control (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  projection text NOT NULL,
  action text NOT NULL,
  state text NOT NULL,
  requested_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  taken_by text,
  error jsonb
);
CREATE INDEX chronicle_control_state ON ${s}.chronicle_control (state, seq);
`,
  },
];

// PostgreSQL truncates longer identifiers silently, which could make two tables one.
const MAX_IDENTIFIER_BYTES = 63;

/**
 * The quoted, unqualified physical name of a projection's logical table in one generation (handlers' transactions
 * run with the store's schema as search_path, so the name also serves CREATE INDEX, which takes no schema). Names are
 * pre-checked identifiers, so the pattern is SQLite's. @throws INVALID_ARGUMENT past PostgreSQL's 63 bytes
 */
export function physicalTable(projection: string, table: string, generation: number): string {
  const name = `${projection}__${table}__g${generation}`;
  if (name.length > MAX_IDENTIFIER_BYTES) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `table ${table} of projection ${projection}: ${name} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES}-byte identifiers`,
      { details: { projection, table, generation } },
    );
  }
  return `"${name}"`;
}

/**
 * Physical tables of one generation of a projection, among `tables`. Names are `<projection>__<table>__g<n>` and
 * neither part may contain `__`, so splitting on it is unambiguous.
 */
export function tablesOfGeneration(tables: readonly string[], projection: string, generation: number): string[] {
  return tables.filter((name) => {
    const parts = name.split('__');
    return parts.length === 3 && parts[0] === projection && parts[2] === `g${generation}`;
  });
}
