// The shipped state-stored conformance cases against the real PostgreSQL, the write tables in the store's own schema.
import { describeStateStoredConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { pgStoreFixture } from '../../test/support/pg-store-fixture.js';
import { pgAvailable } from '../../test/support/postgres.js';

const { fresh, open } = pgStoreFixture('statestored', 8);

describe.skipIf(!pgAvailable)('postgres', () => {
  describeStateStoredConformance(
    'postgres',
    { create: open, createPeer: open, table: (name) => `"${fresh.schema}".${name}` },
    { describe, it, beforeAll, afterAll },
  );
});
