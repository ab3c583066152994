// The read store in a database of its own, fed by a projector from the PostgreSQL event store in another: nothing in
// the read side needs the event store's database.
import { createProjector, defineProjection } from 'chronicle-es';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDatabase, type FreshSchema, freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresEventStore } from './postgres-event-store.js';
import { createPostgresReadStore } from './postgres-read-store.js';
import type { PostgresReadTx } from './read-store-tx.js';

const schemas: FreshSchema[] = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

const totals = defineProjection<PostgresReadTx>({
  name: 'totals',
  version: 1,
  setup: (tx) =>
    tx.run(`CREATE TABLE ${tx.table('totals')} (stream_id text PRIMARY KEY, events bigint NOT NULL, last bigint NOT NULL)`),
  handlers: {
    Counted: (event, tx) =>
      tx.run(
        `INSERT INTO ${tx.table('totals')} (stream_id, events, last) VALUES (?, 1, ?)
         ON CONFLICT (stream_id) DO UPDATE SET events = ${tx.table('totals')}.events + 1, last = excluded.last`,
        [event.streamId, event.position],
      ),
  },
});

async function schemaExists(connectionString: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
  } finally {
    await client.end();
  }
}

describe.skipIf(!pgAvailable)('a PostgreSQL read store in another database than the PostgreSQL event store', () => {
  it('is fed by a projector from the event store and serves from its own database', async () => {
    const readDb = await ensureDatabase('chronicle_read_test');
    const fresh = freshSchema('separate', readDb);
    const log = freshSchema('separate_log');
    schemas.push(fresh, log);
    const events = createPostgresEventStore({ connectionString: log.connectionString, schema: log.schema });
    const read = createPostgresReadStore({ connectionString: readDb, schema: fresh.schema });
    const projector = createProjector({ eventStore: events, readStore: read, projections: [totals], batchSize: 50 });
    try {
      for (let i = 0; i < 30; i++) {
        await events.appendMany(
          Array.from({ length: 4 }, (_, s) => ({ streamId: `s${s}`, events: [{ type: 'Counted', data: { i } }] })),
        );
      }
      await projector.start();
      const head = await events.headPosition();
      await projector.waitForPosition(head);
      const reader = read.reader('totals');
      expect(await reader.all(`SELECT stream_id, events FROM ${reader.table('totals')} ORDER BY stream_id`)).toEqual(
        ['s0', 's1', 's2', 's3'].map((stream_id) => ({ stream_id, events: 30 })),
      );
      expect(await reader.get(`SELECT max(last) AS last FROM ${reader.table('totals')}`)).toEqual({ last: head });
      expect(await read.load('totals')).toMatchObject({ position: head });
      expect(await schemaExists(readDb, fresh.schema)).toBe(true);
      expect(await schemaExists(PG_URL, fresh.schema)).toBe(false);
      expect(await schemaExists(PG_URL, log.schema)).toBe(true);
      expect(await schemaExists(readDb, log.schema)).toBe(false);
      // Events appended while the projector follows are projected too.
      const more = await events.append('s0', [{ type: 'Counted', data: {} }]);
      await projector.waitForPosition(more.position);
      expect(await reader.get(`SELECT events FROM ${reader.table('totals')} WHERE stream_id = ?`, ['s0'])).toEqual({
        events: 31,
      });
    } finally {
      await projector.stop();
      await read.close();
      await events.close();
    }
  });
});
