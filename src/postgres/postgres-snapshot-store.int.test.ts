import { describeSnapshotStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresEventStore } from './index.js';

const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

describe.skipIf(!pgAvailable)('postgres snapshots', () => {
  describeSnapshotStoreConformance(
    'postgres',
    {
      create: () => {
        const fresh = freshSchema('snap');
        schemas.push(fresh);
        return createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
      },
    },
    { describe, it, beforeAll, afterAll },
  );
});
