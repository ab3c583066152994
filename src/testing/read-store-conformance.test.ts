// The read-store conformance suite against the in-memory store, the twin every other read store is held to: as
// projectors share it by compare-and-set alone, and with leases.
import { createInMemoryReadStore, type InMemoryReader, type InMemoryReadTx } from 'chronicle-es';
import { describeReadStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';

for (const leases of [false, true]) {
  describeReadStoreConformance<InMemoryReadTx, InMemoryReader>(
    leases ? 'in-memory with leases' : 'in-memory',
    {
      leases,
      control: true,
      create: () => createInMemoryReadStore({ leases }),
      // In memory a table exists from its first write.
      createTable: () => {},
      write: (tx, table, key, value) => void tx.table(table).set(key, value),
      read: (reader, table) => Object.fromEntries(reader.table<number>(table)),
    },
    { describe, it, beforeAll, afterAll },
  );
}
