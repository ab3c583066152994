import { describeSnapshotStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createInMemoryEventStore } from '../in-memory-event-store.js';

describeSnapshotStoreConformance(
  'in memory',
  { create: () => createInMemoryEventStore() },
  { describe, it, beforeAll, afterAll },
);
