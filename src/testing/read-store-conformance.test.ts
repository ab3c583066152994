// The read-store conformance suite against the in-memory store, the twin every other read store is held to.
import { createInMemoryReadStore, type InMemoryReader, type InMemoryReadTx } from 'chronicle-es';
import { describeReadStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';

describeReadStoreConformance<InMemoryReadTx, InMemoryReader>(
  { describe, it, beforeAll, afterAll },
  {
    name: 'in-memory',
    create: () => createInMemoryReadStore(),
    // In memory a table exists from its first write.
    createTable: () => {},
    write: (tx, table, key, value) => void tx.table(table).set(key, value),
    read: (reader, table) => Object.fromEntries(reader.table<number>(table)),
  },
);
