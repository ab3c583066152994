// Existing data: a schema at migration 1 with events written by migration 1's append_events (the append path of the
// version before tags), then opened by the current store. Migration 2 backfills the tag index with every stored
// event's stream id, so reads by stream id find the old events, conditions see them, and appends go on.
import { isChronicleError, prepareWrite, Query } from 'chronicle-es';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { openConnection } from './connection.js';
import { type AppendCall, encodeGroup } from './event-store-append.js';
import { eventStoreMigrations } from './event-store-migrations.js';
import { createPostgresEventStore } from './index.js';
import { migrate } from './migrate.js';

const fresh = freshSchema('mig');
afterAll(async () => {
  await fresh.drop();
});

const now = new Date().toISOString();
const call = (writes: Array<[streamId: string, types: string[]]>, key?: string): AppendCall => ({
  writes: writes.map(([streamId, types]) =>
    prepareWrite({ streamId, events: types.map((type) => ({ type, data: { type } })) }, now),
  ),
  key,
  fingerprint: undefined,
});

// The schema as the version before tags left it: migration 1 only, and events from its append_events.
async function writeWithMigrationOne(): Promise<void> {
  const connection = openConnection({ connectionString: PG_URL, schema: fresh.schema, poolSize: 1 }, 'test');
  try {
    await migrate(connection, 'events', eventStoreMigrations(fresh.schema).slice(0, 1));
    const client = await connection.pool.connect();
    try {
      const sql = `SELECT ${connection.schema}.append_events(${Array.from({ length: 13 }, (_, i) => `$${i + 1}`).join(', ')})`;
      const groups: AppendCall[][] = [
        [call([['order-1', ['OrderPlaced', 'OrderPaid']]]), call([['product-p1', ['ProductAdded']]], 'key-1')],
        [
          call([
            ['order-2', ['OrderPlaced']],
            ['product-p1', ['StockReserved']],
          ]),
        ],
        [call([['order-1', ['OrderShipped']]])],
      ];
      for (const group of groups) await client.query(sql, encodeGroup(group).slice(0, 13));
      // Padding: enough rows that the backfill is more than a handful.
      const bulk = Array.from({ length: 1000 }, (_, i) => 'Padded'.concat(String(i % 3)));
      await client.query(sql, encodeGroup([call([['padding-1', bulk]])]).slice(0, 13));
    } finally {
      client.release();
    }
  } finally {
    await connection.end();
  }
}

describe.skipIf(!pgAvailable)('postgres event store: data written before tags', () => {
  it('migration 2 backfills the stream ids: reads by stream id, conditions and appends see the old events', async () => {
    await writeWithMigrationOne();
    const store = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
    try {
      const order = await store.read(Query.tags('order-1'));
      expect(order.events.map((e) => [e.position, e.type, e.version, e.tags])).toEqual([
        [1, 'OrderPlaced', 1, []],
        [2, 'OrderPaid', 2, []],
        [6, 'OrderShipped', 3, []],
      ]);
      expect(order.head).toBe(1006);
      expect((await store.read(Query.tags('product-p1'))).events.map((e) => e.position)).toEqual([3, 5]);
      expect((await store.read([{ types: ['OrderPlaced'] }])).events.map((e) => e.streamId)).toEqual(['order-1', 'order-2']);
      expect(
        (await store.read([{ tags: ['order-2'], types: ['OrderPlaced'] }, { tags: ['padding-1'] }], { limit: 3 })).events.map(
          (e) => e.position,
        ),
      ).toEqual([4, 7, 8]);
      expect((await store.readAll({ limit: 2 })).map((e) => e.tags)).toEqual([[], []]);

      // A condition on an old stream id sees its old events.
      const err = await store
        .append([{ streamId: 'order-1', type: 'OrderNoted', data: {}, tags: ['note'] }], {
          condition: { failIfEventsMatch: Query.tags('order-1'), after: 1 },
        })
        .catch((e: unknown) => e);
      expect(isChronicleError(err, 'CONCURRENCY_CONFLICT')).toBe(true);
      expect((err as { details: unknown }).details).toEqual({ position: 2, after: 1 });
      const noted = await store.append([{ streamId: 'order-1', type: 'OrderNoted', data: {}, tags: ['note'] }], {
        condition: { failIfEventsMatch: Query.tags('order-1'), after: order.head },
      });
      expect(noted).toEqual([{ streamId: 'order-1', version: 4, position: 1007, duplicate: false }]);

      // Stream appends with expected versions and stored idempotency keys go on as before.
      const next = await store.append('product-p1', [{ type: 'StockReleased', data: {} }], { expectedVersion: 2 });
      expect(next.version).toBe(3);
      const again = await store.append('product-p1', [{ type: 'ProductAdded', data: {} }], { idempotencyKey: 'key-1' });
      expect(again).toEqual({ streamId: 'product-p1', version: 1, position: 3, duplicate: true });
      expect((await store.readStream('order-1')).map((e) => e.tags)).toEqual([[], [], [], ['note']]);
    } finally {
      await store.close();
    }

    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT
        (SELECT count(*)::int FROM "${fresh.schema}".event_tags) AS tags,
        (SELECT count(*)::int FROM "${fresh.schema}".events) AS events,
        (SELECT count(*)::int FROM "${fresh.schema}".events WHERE tags IS NOT NULL) AS tagged,
        (SELECT max(version) FROM "${fresh.schema}".chronicle_migrations WHERE component = 'events') AS version`);
      // One row per event for its stream id, one more for the one explicit tag that is not its stream id.
      expect(rows[0]).toEqual({ tags: 1008 + 1, events: 1008, tagged: 1, version: 2 });
    } finally {
      await client.end();
    }
  });
});
