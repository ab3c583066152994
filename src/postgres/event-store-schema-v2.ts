// Migration 2 of the PostgreSQL event store: tags on events, the tag index (backfilled with every stored event's
// stream id), a type index, and append_events taking tags and append conditions, exact at READ COMMITTED.
import {
  APPEND_LOCK_CLASS,
  appendLockKeySql,
  EXPECTED_ANY,
  EXPECTED_EXISTS,
  EXPECTED_NO_STREAM,
  notifyChannel,
} from './event-store-schema.js';

/**
 * The class (first key) of the advisory locks that make append conditions exact: one lock per tag, per event type and
 * one store-wide, keyed by a 32-bit hash of the schema name, the kind and the value (see conditionLockKeySql).
 */
export const CONDITION_LOCK_CLASS = 0x434843; // "CHC"
/**
 * Most condition locks one append_events call takes one by one. Past it the call takes the store-wide key exclusively
 * instead (a bulk write excludes every other append while it runs: correct, and rare); the client keeps a group of
 * several appends below it. Every group in flight holds up to this many entries of the server's shared lock table
 * (max_locks_per_transaction × max_connections, 6,400 by default).
 */
export const MAX_CONDITION_LOCKS = 256;
/** Separates the tags (or types) of one event or query item in append_events' text parameters: no tag holds one. */
export const LIST_SEPARATOR = '\u001f';

// The prefix of every condition-lock name of a schema; the names are `t:<tag>`, `y:<type>` and `g` (store-wide).
const lockPrefix = (schemaName: string) => `chronicle:dcb:${schemaName}:`;

// The tables. The stream id goes into the index as a tag, for the stored events here and for every event appended
// from now on, so a query by stream id finds events written before tags existed (the reading rule of the port).
const tagTables = (s: string) => `
  -- NULL when the event has no tags of its own (most events): no array to store.
  ALTER TABLE ${s}.events ADD COLUMN tags text[];
  CREATE TABLE ${s}.event_tags (
    tag text COLLATE "C" NOT NULL,
    position bigint NOT NULL
  );
  -- Filled before the key exists, in key order: one sorted build instead of a B-tree insert per stored event.
  INSERT INTO ${s}.event_tags (tag, position) SELECT stream_id, position FROM ${s}.events ORDER BY stream_id, position;
  ALTER TABLE ${s}.event_tags ADD CONSTRAINT event_tags_pkey PRIMARY KEY (tag, position);
  -- Query items with types and no tags, and the type-only branch of a condition check.
  CREATE INDEX events_type ON ${s}.events (type, position);
  DROP FUNCTION ${s}.append_events(text[], text[], bigint[], int[], int[], text[], text[], int[], int[], text[], text[],
    text[], text[]);`;

// The contract of migration 1's append_events (event-store-schema.ts) holds, with five more parameters:
// - e_tags: per event, its own tags joined by LIST_SEPARATOR, NULL when none; stored in events.tags, and indexed in
//   event_tags together with the event's stream id;
// - a_after: per append, the `after` of its condition, NULL when it has none;
// - q_append, q_tags, q_types: the items of the conditions, one row each: the 1-based append, the item's tags and
//   types joined (NULL when the item has none; both NULL is `{}`, every event).
// An append whose condition does not hold answers {"e":"condition","p": first matching position} and writes nothing.
// Its condition is checked against the table only: the client never puts a conditional append in a group after an
// append whose events match its query (it waits for the next group), so the group's own writes need no look.
const appendFunction = (s: string, schemaName: string) => `
  CREATE FUNCTION ${s}.append_events(
    w_stream text[], w_category text[], w_expected bigint[], w_count int[],
    a_writes int[], a_key text[], a_fingerprint text[],
    e_write int[], e_k int[], e_id text[], e_type text[], e_data text[], e_metadata text[],
    e_tags text[], a_after bigint[], q_append int[], q_tags text[], q_types text[]
  ) RETURNS text LANGUAGE plpgsql
  -- Array parameters keep the plan cache on custom plans, re-planned on every call: two thirds of the function's time.
  SET plan_cache_mode = force_generic_plan
  AS $fn$
  DECLARE
    n_writes int := cardinality(w_stream);
    l_key int[];
    l_exclusive boolean[];
    c_append int[];
    c_position bigint[];
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
    ci int;
    pi int := 0;
    cur bigint;
    want bigint;
    answer text;
  BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'chronicle: appends need READ COMMITTED, not %', current_setting('transaction_isolation');
    END IF;

    -- Why the conditions are exact. A check-then-insert alone is not: two appenders both check, see nothing, commit.
    -- So every append first takes advisory locks, before its first position and before any row lock:
    -- - SHARED on what it writes: the key of each tag of each event (its stream id counts as one), of each event
    --   type, and the store-wide key G (taken by every call);
    -- - EXCLUSIVE on what its conditions query: per item with tags, one of them (an event matching the item carries
    --   them all, so its writer holds that key shared); per item with types only, each type; per {} item, G.
    -- A conditional append and a writer of an event matching its query therefore hold one key in conflicting modes,
    -- and the second to come waits for the first to commit. If the writer came first, its rows are visible to the
    -- check, which runs in a later statement (a fresh snapshot at READ COMMITTED) — PostgreSQL makes a commit visible
    -- before it releases the transaction's locks. If the check came first, the writer takes its positions only after
    -- the conditional append committed, so they come after it. And the condition's \`after\` comes from a read bounded
    -- by the safe head: no position at or below it can still commit. So no matching event commits after \`after\`
    -- unseen. Keys are taken in ascending order, each once in the strongest mode asked, all in this one statement
    -- at the start of the transaction: two calls never deadlock on them, and they come before any row lock. They come
    -- before the append lock and the transaction id too, so a call waiting here holds no reader of the log back.
    WITH need(name, exclusive) AS (
      SELECT 'g', false
      UNION ALL SELECT 't:' || w_stream[x.w], false FROM unnest(e_write) AS x(w)
      UNION ALL SELECT 't:' || t, false FROM unnest(e_tags) AS x(tags), unnest(string_to_array(x.tags, chr(31))) AS t
      UNION ALL SELECT 'y:' || t, false FROM unnest(e_type) AS t
      UNION ALL SELECT CASE WHEN q.tags IS NULL THEN 'g' ELSE 't:' || split_part(q.tags, chr(31), 1) END, true
        FROM unnest(q_tags, q_types) AS q(tags, types) WHERE q.tags IS NOT NULL OR q.types IS NULL
      UNION ALL SELECT 'y:' || t, true
        FROM unnest(q_tags, q_types) AS q(tags, types), unnest(string_to_array(q.types, chr(31))) AS t WHERE q.tags IS NULL
    ), named AS (
      SELECT name, bool_or(exclusive) AS exclusive FROM need GROUP BY name
    ), keyed AS (
      SELECT hashtext('${lockPrefix(schemaName)}' || name) AS k, bool_or(exclusive) AS exclusive FROM named GROUP BY 1
    )
    SELECT array_agg(k ORDER BY k), array_agg(exclusive ORDER BY k) INTO l_key, l_exclusive FROM keyed;
    IF cardinality(l_key) > ${MAX_CONDITION_LOCKS} THEN
      l_key := ARRAY[hashtext('${lockPrefix(schemaName)}g')];
      l_exclusive := ARRAY[true];
    END IF;
    PERFORM CASE WHEN l.exclusive THEN pg_advisory_xact_lock(${CONDITION_LOCK_CLASS}, l.k)
                 ELSE pg_advisory_xact_lock_shared(${CONDITION_LOCK_CLASS}, l.k) END
      FROM unnest(l_key, l_exclusive) AS l(k, exclusive);

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

    -- The first event after its \`after\` matching each condition, all in one statement (after the locks: see above).
    -- A tag item walks its first tag's index from \`after\` and stops at the first event carrying the others and one
    -- of its types; a type item takes the first of each type; {} the first event. The type lookup is a row comparison
    -- ordered by (type, position): only events_type serves it, where \`type = t ORDER BY position\` gets a generic plan
    -- walking the primary key from \`after\` through every event of other types.
    IF cardinality(q_append) > 0 THEN
      SELECT array_agg(c.a), array_agg(c.p) INTO c_append, c_position FROM (
        SELECT q.a, min(m.p) AS p
          FROM unnest(q_append, q_tags, q_types) AS q0(a, tags, types)
          CROSS JOIN LATERAL (
            SELECT q0.a, string_to_array(q0.tags, chr(31)) AS tg, string_to_array(q0.types, chr(31)) AS ty,
                   a_after[q0.a] AS after
          ) q
          CROSS JOIN LATERAL (
            (SELECT et.position AS p FROM ${s}.event_tags et
              WHERE q.tg IS NOT NULL AND et.tag = q.tg[1] AND et.position > q.after
                AND (cardinality(q.tg) = 1 OR (SELECT count(*) FROM ${s}.event_tags o
                      WHERE o.position = et.position AND o.tag = ANY (q.tg)) = cardinality(q.tg))
                AND (q.ty IS NULL OR EXISTS (SELECT 1 FROM ${s}.events e WHERE e.position = et.position AND e.type = ANY (q.ty)))
              ORDER BY et.position LIMIT 1)
            UNION ALL
            SELECT (SELECT CASE WHEN x.type = t THEN x.position END FROM (SELECT e.type, e.position FROM ${s}.events e
                      WHERE (e.type, e.position) > (t, q.after) ORDER BY e.type, e.position LIMIT 1) x)
              FROM unnest(q.ty) AS t WHERE q.tg IS NULL
            UNION ALL
            SELECT (SELECT min(e.position) FROM ${s}.events e WHERE e.position > q.after) WHERE q.tg IS NULL AND q.ty IS NULL
          ) m
         GROUP BY q.a
      ) c WHERE c.p IS NOT NULL;
    END IF;

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
      IF answer IS NULL AND a_after[a] IS NOT NULL THEN
        ci := array_position(c_append, a);
        IF ci IS NOT NULL THEN
          answer := json_build_object('e', 'condition', 'p', c_position[ci])::text;
        END IF;
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

    -- Every written event in one statement; nextval runs row by row in group order, so positions ascend with it. The
    -- tag index gets each event's stream id and its own tags (a tag equal to the stream id once).
    WITH ins AS (
      INSERT INTO ${s}.events (position, id, stream_id, version, category, type, data, metadata, tags)
      SELECT nextval('${s}.events_position'), x.id, w_stream[x.w], w_base[x.w] + x.k, w_category[x.w], x.type,
             x.data::json, x.metadata::json, string_to_array(x.tags, chr(31))
        FROM unnest(e_write, e_k, e_id, e_type, e_data, e_metadata, e_tags) AS x(w, k, id, type, data, metadata, tags)
        WHERE w_ok[x.w]
      RETURNING position, stream_id, tags
    ), indexed AS (
      INSERT INTO ${s}.event_tags (tag, position)
      SELECT ins.stream_id, ins.position FROM ins
      UNION ALL
      SELECT t, ins.position FROM ins, unnest(ins.tags) AS t WHERE t <> ins.stream_id
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
  $fn$;`;

/** Migration 2's statements, given the quoted schema name and the schema name. */
export const tagsMigrationSql = (s: string, schemaName: string) => tagTables(s) + appendFunction(s, schemaName);
