// The projection-worker fault scenarios (test/fault/projector-lease-scenarios.ts) on the PostgreSQL read store: each
// "worker" opens its own store, with its own pool, on one schema, as separate processes would.
import { createInMemoryEventStore, defineProjection, type ProjectionStore } from 'chronicle-es';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Applied,
  failoverScenario,
  fencingScenario,
  type LeaseScenarioHarness,
} from '../../test/fault/projector-lease-scenarios.js';
import { type FreshSchema, freshSchema, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresReadStore, type PostgresReadStore } from './postgres-read-store.js';
import type { PostgresReadTx } from './read-store-tx.js';

const schemas: FreshSchema[] = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

function postgresHarness(): LeaseScenarioHarness<PostgresReadTx> {
  const fresh = freshSchema('workers');
  schemas.push(fresh);
  return {
    eventStore: createInMemoryEventStore(),
    openReadStore: () => createPostgresReadStore({ connectionString: fresh.connectionString, schema: fresh.schema, poolSize: 3 }),
    projection: (name, worker, hold) =>
      defineProjection<PostgresReadTx>({
        name,
        version: 1,
        setup: (tx) =>
          tx.run(`CREATE TABLE ${tx.table('applied')} (event_id text PRIMARY KEY, count integer NOT NULL, worker text NOT NULL)`),
        handlers: {
          Added: async (event, tx) => {
            await hold?.(event);
            await tx.run(
              `INSERT INTO ${tx.table('applied')} (event_id, count, worker) VALUES (?, 1, ?)
               ON CONFLICT (event_id) DO UPDATE SET count = ${tx.table('applied')}.count + 1, worker = excluded.worker`,
              [event.id, worker],
            );
          },
        },
      }),
    applied: async (store: ProjectionStore<PostgresReadTx, unknown>, name) => {
      const reader = (store as PostgresReadStore).reader(name);
      const rows = await reader.all<{ event_id: string } & Applied>(
        `SELECT event_id, count, worker FROM ${reader.table('applied')}`,
      );
      return new Map(rows.map(({ event_id, count, worker }) => [event_id, { count, worker }]));
    },
  };
}

describe.skipIf(!pgAvailable)('projection workers on the PostgreSQL read store', () => {
  it('refuses a paused batch of a worker whose lease passed on, and the new holder’s rows stand', async () => {
    await fencingScenario(postgresHarness());
  }, 20_000);

  it('moves a dead worker’s projections to the survivor within 5 s, which continues from the checkpoints', async () => {
    const { tookOverMs, heldByA } = await failoverScenario(postgresHarness());
    console.log(`took over ${heldByA.join(', ')} ${tookOverMs} ms after the worker died`);
    expect(heldByA.length).toBeGreaterThan(0);
  }, 30_000);
});
