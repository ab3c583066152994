// Migration 1 of the PostgreSQL event store (tables, append_events, delete_stream) and the constants its SQL and the
// client share. The migrations in order are in event-store-migrations.ts.
import type { ExpectedVersion } from 'chronicle-es';

/**
 * The advisory lock every append holds (shared, until its transaction ends) from before it takes its first position:
 * a reader can tell a transaction that may still commit positions from any other open transaction by it. The
 * two-key form keeps it apart from the single-key locks migrate() takes.
 */
export const APPEND_LOCK_CLASS = 0x43484e; // "CHN"
/** Second key of the append lock: per schema, so stores in other schemas never hold each other's readers back. */
export const appendLockKeySql = (schemaName: string) => `hashtext('chronicle:events:${schemaName}')`;

/** The NOTIFY channel of a schema's appends (63 bytes at most, PostgreSQL's identifier length). */
export const notifyChannel = (schemaName: string) => `chronicle_events_${schemaName}`.slice(0, 63);

/** Expected versions as the append function takes them: n >= 0 is an exact version. */
export const EXPECTED_ANY = -1;
export const EXPECTED_NO_STREAM = -2;
export const EXPECTED_EXISTS = -3;

/** An expected version as the append and delete functions take it. */
export const expectedCode = (expected: ExpectedVersion): number =>
  expected === 'any'
    ? EXPECTED_ANY
    : expected === 'no_stream'
      ? EXPECTED_NO_STREAM
      : expected === 'exists'
        ? EXPECTED_EXISTS
        : expected;

const streamsAndEvents = (s: string) => `
  -- CACHE 1: last_value must be the last position handed out, never one cached ahead by a session (see safe head).
  CREATE SEQUENCE ${s}.events_position AS bigint MINVALUE 1 CACHE 1;
  CREATE TABLE ${s}.events (
    position bigint NOT NULL,
    id text COLLATE "C" NOT NULL,
    stream_id text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    category text COLLATE "C" NOT NULL,
    type text COLLATE "C" NOT NULL,
    data json NOT NULL,
    metadata json NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
  );
  CREATE INDEX events_category ON ${s}.events (category, position);
  -- One row per stream ever appended to: the row every append to the stream locks, plus its delete flag and metadata.
  -- The version is not kept here but read from events' (stream_id, version) index, so an append writes no row here.
  CREATE TABLE ${s}.streams (
    stream_id text COLLATE "C" PRIMARY KEY,
    deleted boolean NOT NULL DEFAULT false,
    metadata json NOT NULL DEFAULT '{}'
  );
  CREATE TABLE ${s}.idempotency (
    key text COLLATE "C" PRIMARY KEY,
    -- The AppendResult[] of the first append, as JSON.
    result text NOT NULL,
    fingerprint text
  );`;

// The whole group of concurrent appends a store sends at once: one statement, one transaction, one round trip.
// Contract (migration 2 replaces the function with one taking tags and conditions, same contract otherwise):
// - writes w_* (one per stream written; an appendMany has several, an append one), appends a_* (a_writes = how many
//   consecutive writes each has), events e_* (in write order; e_write = the 1-based write, e_k = 1-based index in it);
// - each append is decided on the streams as the group's earlier appends left them: an idempotency key already stored
//   answers {"d": stored result} (or {"e":"mismatch","f": stored fingerprint}); a deleted stream {"e":"deleted","w": i};
//   a failed expected version {"e":"conflict","w": i,"a": actual}; otherwise its events are written and it answers
//   {"r": [[version, position], …]} per write. A failed append writes nothing; the others go on;
// - returns a JSON array with one answer per append, in order;
// - a unique violation (an event id already stored, a key stored meanwhile by a concurrent transaction) fails the
//   whole statement: the client then sends that group's appends one by one to pin the failure on one of them.
// The order inside matters: the append lock and the transaction id come before the first position (safe head).
const appendFunction = (s: string, schemaName: string) => `
  CREATE FUNCTION ${s}.append_events(
    w_stream text[], w_category text[], w_expected bigint[], w_count int[],
    a_writes int[], a_key text[], a_fingerprint text[],
    e_write int[], e_k int[], e_id text[], e_type text[], e_data text[], e_metadata text[]
  ) RETURNS text LANGUAGE plpgsql
  -- Array parameters keep the plan cache on custom plans, re-planned on every call: two thirds of the function's time.
  SET plan_cache_mode = force_generic_plan
  AS $fn$
  DECLARE
    n_writes int := cardinality(w_stream);
    s_id text[];
    s_deleted boolean[];
    s_version bigint[];
    s_position bigint[];
    k_key text[];
    k_result text[];
    k_fingerprint text[];
    w_base bigint[] := array_fill(0::bigint, ARRAY[n_writes]);
    w_ok boolean[] := array_fill(false, ARRAY[n_writes]);
    a_answer text[] := array_fill(NULL::text, ARRAY[cardinality(a_writes)]);
    n_key text[] := '{}';
    n_result text[] := '{}';
    n_fingerprint text[] := '{}';
    positions bigint[];
    parts text[];
    stored text[];
    answers text[] := '{}';
    w int := 1;
    last_w int;
    si int;
    ki int;
    pi int := 0;
    cur bigint;
    want bigint;
    answer text;
  BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'chronicle: appends need READ COMMITTED, not %', current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock_shared(${APPEND_LOCK_CLASS}, ${appendLockKeySql(schemaName)});
    -- The transaction id before any position: every position a reader sees in the sequence then belongs to a
    -- transaction whose id is below any id assigned after it (see event-store-safe-head.ts).
    PERFORM pg_current_xact_id();

    -- Lock every stream of the group in one order (rows created first where missing), so two groups never deadlock.
    INSERT INTO ${s}.streams (stream_id)
      SELECT DISTINCT x COLLATE "C" FROM unnest(w_stream) AS x ORDER BY 1 ON CONFLICT DO NOTHING;
    PERFORM 1 FROM ${s}.streams WHERE stream_id = ANY (w_stream) ORDER BY stream_id FOR NO KEY UPDATE;
    -- A new statement, so a new snapshot: it sees everything the previous holders of these locks committed.
    SELECT array_agg(t.stream_id), array_agg(t.deleted), array_agg(coalesce(l.version, 0)), array_agg(coalesce(l.position, 0))
      INTO s_id, s_deleted, s_version, s_position
      FROM ${s}.streams t
      LEFT JOIN LATERAL (
        SELECT e.version, e.position FROM ${s}.events e WHERE e.stream_id = t.stream_id ORDER BY e.version DESC LIMIT 1
      ) l ON true
      WHERE t.stream_id = ANY (w_stream);
    SELECT array_agg(i.key), array_agg(i.result), array_agg(i.fingerprint) INTO k_key, k_result, k_fingerprint
      FROM ${s}.idempotency i WHERE i.key = ANY (a_key);

    FOR a IN 1 .. cardinality(a_writes) LOOP
      last_w := w + a_writes[a] - 1;
      answer := NULL;
      IF a_key[a] IS NOT NULL THEN
        ki := array_position(k_key, a_key[a]);
        IF ki IS NOT NULL THEN
          IF k_fingerprint[ki] IS NOT NULL AND a_fingerprint[a] IS NOT NULL AND k_fingerprint[ki] <> a_fingerprint[a] THEN
            answer := json_build_object('e', 'mismatch', 'f', k_fingerprint[ki])::text;
          ELSE
            answer := '{"d":' || k_result[ki] || '}';
          END IF;
        END IF;
      END IF;
      IF answer IS NULL THEN
        FOR wi IN w .. last_w LOOP
          si := array_position(s_id, w_stream[wi]);
          IF s_deleted[si] THEN
            answer := json_build_object('e', 'deleted', 'w', wi - w)::text;
            EXIT;
          END IF;
          cur := s_version[si];
          want := w_expected[wi];
          IF NOT (want = ${EXPECTED_ANY} OR (want = ${EXPECTED_NO_STREAM} AND cur = 0)
                  OR (want = ${EXPECTED_EXISTS} AND cur > 0) OR want = cur) THEN
            answer := json_build_object('e', 'conflict', 'w', wi - w, 'a', cur)::text;
            EXIT;
          END IF;
        END LOOP;
      END IF;
      IF answer IS NULL THEN
        FOR wi IN w .. last_w LOOP
          si := array_position(s_id, w_stream[wi]);
          w_base[wi] := s_version[si];
          w_ok[wi] := true;
          s_version[si] := s_version[si] + w_count[wi];
        END LOOP;
      END IF;
      a_answer[a] := answer;
      w := last_w + 1;
    END LOOP;

    -- Every written event in one statement; nextval runs row by row in group order, so positions ascend with it.
    WITH ins AS (
      INSERT INTO ${s}.events (position, id, stream_id, version, category, type, data, metadata)
      SELECT nextval('${s}.events_position'), x.id, w_stream[x.w], w_base[x.w] + x.k, w_category[x.w], x.type,
             x.data::json, x.metadata::json
        FROM unnest(e_write, e_k, e_id, e_type, e_data, e_metadata) AS x(w, k, id, type, data, metadata)
        WHERE w_ok[x.w]
      RETURNING position
    )
    SELECT array_agg(ins.position ORDER BY ins.position) INTO positions FROM ins;

    w := 1;
    FOR a IN 1 .. cardinality(a_writes) LOOP
      last_w := w + a_writes[a] - 1;
      IF a_answer[a] IS NULL THEN
        parts := '{}';
        stored := '{}';
        FOR wi IN w .. last_w LOOP
          si := array_position(s_id, w_stream[wi]);
          IF w_count[wi] > 0 THEN
            pi := pi + w_count[wi];
            s_position[si] := positions[pi];
          END IF;
          parts := parts || ('[' || (w_base[wi] + w_count[wi]) || ',' || s_position[si] || ']');
          IF a_key[a] IS NOT NULL THEN
            stored := stored || json_build_object('streamId', w_stream[wi], 'version', w_base[wi] + w_count[wi],
              'position', s_position[si], 'duplicate', false)::text;
          END IF;
        END LOOP;
        IF a_key[a] IS NOT NULL THEN
          n_key := n_key || a_key[a];
          n_result := n_result || ('[' || array_to_string(stored, ',') || ']');
          n_fingerprint := n_fingerprint || a_fingerprint[a];
        END IF;
        answers := answers || ('{"r":[' || array_to_string(parts, ',') || ']}');
      ELSE
        answers := answers || a_answer[a];
      END IF;
      w := last_w + 1;
    END LOOP;

    IF cardinality(n_key) > 0 THEN
      INSERT INTO ${s}.idempotency (key, result, fingerprint) SELECT * FROM unnest(n_key, n_result, n_fingerprint);
    END IF;
    -- Delivered at commit, to every store listening on this schema's channel.
    IF pi > 0 THEN
      PERFORM pg_notify('${notifyChannel(schemaName)}', '');
    END IF;
    RETURN '[' || array_to_string(answers, ',') || ']';
  END
  $fn$;

  -- Soft delete with an expected version: returns -1 when deleted, else the stream's actual version.
  CREATE FUNCTION ${s}.delete_stream(p_stream text, p_expected bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$
  DECLARE
    cur bigint;
  BEGIN
    INSERT INTO ${s}.streams (stream_id) VALUES (p_stream) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM ${s}.streams WHERE stream_id = p_stream FOR NO KEY UPDATE;
    SELECT coalesce((SELECT e.version FROM ${s}.events e WHERE e.stream_id = p_stream ORDER BY e.version DESC LIMIT 1), 0)
      INTO cur;
    IF NOT (p_expected = ${EXPECTED_ANY} OR (p_expected = ${EXPECTED_NO_STREAM} AND cur = 0)
            OR (p_expected = ${EXPECTED_EXISTS} AND cur > 0) OR p_expected = cur) THEN
      RETURN cur;
    END IF;
    UPDATE ${s}.streams SET deleted = true WHERE stream_id = p_stream;
    RETURN -1;
  END
  $fn$;`;

/** Migration 1's statements, given the quoted schema name and the schema name. Never changed: databases hold it. */
export const firstMigrationSql = (s: string, schemaName: string) => streamsAndEvents(s) + appendFunction(s, schemaName);
