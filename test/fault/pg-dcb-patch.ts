// Test-only changes to a schema's append_events, to show what makes append conditions exact: the exclusive condition
// locks taken shared instead (so nothing orders a check against a concurrent writer), and a pause between the
// condition check and the insert (so racing appenders overlap every time instead of now and then).
import pg from 'pg';

export type AppendPatch = {
  /** false: every condition lock is taken shared, as if conditions took no exclusive locks. */
  exclusiveLocks: boolean;
  /** Sleep this long after the condition check, before the events are inserted. */
  pauseMs: number;
};

const EXCLUSIVE = 'WHEN l.exclusive THEN pg_advisory_xact_lock(';
// The first loop over the appends comes right after the condition check.
const AFTER_CHECK = 'FOR a IN 1 .. cardinality(a_writes) LOOP';

/** Replaces append_events in `schema` with the patched version (CREATE OR REPLACE: the store's calls pick it up). */
export async function patchAppendEvents(connectionString: string, schema: string, patch: AppendPatch): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ def: string }>(
      `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.proname = 'append_events'`,
      [schema],
    );
    if (rows.length !== 1) throw new Error(`expected one append_events in ${schema}, found ${rows.length}`);
    let def = rows[0].def;
    for (const marker of [EXCLUSIVE, AFTER_CHECK]) {
      if (!def.includes(marker)) throw new Error(`append_events no longer contains ${JSON.stringify(marker)}`);
    }
    if (!patch.exclusiveLocks) def = def.replace(EXCLUSIVE, 'WHEN l.exclusive THEN pg_advisory_xact_lock_shared(');
    if (patch.pauseMs > 0) def = def.replace(AFTER_CHECK, `PERFORM pg_sleep(${patch.pauseMs / 1000});\n    ${AFTER_CHECK}`);
    await client.query(def);
  } finally {
    await client.end();
  }
}
