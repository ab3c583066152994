import { describeStoreInspectorConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { inspectorOf } from './store-inspector.js';

describeStoreInspectorConformance(
  'in-memory',
  { create: () => createInMemoryEventStore() },
  { describe, it, beforeAll, afterAll },
);

describe('inspectorOf', () => {
  it('is undefined for a store without an inspector', () => {
    expect(inspectorOf({ append() {} })).toBeUndefined();
  });
});
