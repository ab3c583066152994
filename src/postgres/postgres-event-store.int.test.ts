import { describeEventStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresEventStore, type PostgresEventStore } from './index.js';

const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

describe.skipIf(!pgAvailable)('postgres event store', () => {
  describeEventStoreConformance(
    'postgres',
    {
      create: () => {
        const fresh = freshSchema('ev');
        schemas.push(fresh);
        return createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 4 });
      },
      // Another pool on the same schema, as another process would open: the races run across both.
      createPeer: (first) =>
        createPostgresEventStore({ connectionString: PG_URL, schema: (first as PostgresEventStore).schema, poolSize: 4 }),
    },
    { describe, it, beforeAll, afterAll },
  );
});
