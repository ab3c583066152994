// Last year's log imported into real SQLite and PostgreSQL stores and read by today's code through withUpcasting: the
// decider sees v3 orders and the renamed customer type, and the stored rows keep last year's bytes.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandHandler, type EventStore, importLog, withUpcasting } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog, order } from '../src/core/evolution/fixtures/evolved-orders.js';
import { LAST_YEAR_LOG } from '../src/core/evolution/fixtures/last-year-log.js';
import { type FreshSchema, freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

let dir: string;
const schemas: FreshSchema[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-upcasting-'));
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  await rm(dir, { recursive: true, force: true });
});

async function readsLastYearAsToday(raw: EventStore): Promise<void> {
  await importLog(raw, LAST_YEAR_LOG);
  const store = withUpcasting(raw, catalog);
  const handle = createCommandHandler({ store, decider: order, streamId: (c) => `order-${c.data.orderId}`, cacheSize: 0 });
  await expect(handle({ type: 'RefundOrder', data: { orderId: 'o1', cents: 1251 } }, {})).rejects.toThrow('refund over 1250 EUR');
  await expect(handle({ type: 'RefundOrder', data: { orderId: 'o2', cents: 800 } }, {})).resolves.toMatchObject({ version: 2 });
  const customer = await store.read([{ types: ['CustomerRegistered'] }]);
  expect(customer.events.map((e) => [e.type, e.data])).toEqual([['CustomerRegistered', { customerId: 'c1', name: 'Ada' }]]);
  const stored = await raw.readAll();
  expect(stored.slice(0, 3).map((e) => [e.type, e.metadata.schemaVersion, e.data])).toEqual([
    ['CustomerSignedUp', 1, { customerId: 'c1', name: 'Ada' }],
    ['OrderPlaced', 1, { orderId: 'o1', customerId: 'c1', total: 12.5 }],
    ['OrderPlaced', 2, { orderId: 'o2', customerId: 'c1', total: 8, currency: 'USD' }],
  ]);
}

describe('upcasting on real stores', () => {
  it('SQLite: reads the v1 log as v3, and the file still holds the v1 rows', async () => {
    const path = join(dir, 'events.db');
    const raw = createSqliteEventStore({ path });
    try {
      await readsLastYearAsToday(raw);
    } finally {
      await raw.close();
    }
    const file = readFileSync(path).toString('latin1');
    expect(file).toContain('{"orderId":"o1","customerId":"c1","total":12.5}');
    expect(file).not.toContain('"cents":1250');
  });

  it.skipIf(!pgAvailable)('PostgreSQL: reads the v1 log as v3', async () => {
    const fresh = freshSchema('upc');
    schemas.push(fresh);
    const raw = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
    try {
      await readsLastYearAsToday(raw);
    } finally {
      await raw.close();
    }
  });
});
