import { describeEventStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from './in-memory-event-store.js';

describe('in-memory event store', () => {
  it('appends and reads back a stream', async () => {
    const store = createInMemoryEventStore();
    const r = await store.append('order-1', [{ type: 'OrderCreated', data: { n: 1 } }], { expectedVersion: 'no_stream' });
    expect(r).toEqual({ streamId: 'order-1', version: 1, position: 1, duplicate: false });
    const events = await store.readStream('order-1');
    expect(events.map((e) => e.data)).toEqual([{ n: 1 }]);
  });
});

describeEventStoreConformance('in-memory', { create: () => createInMemoryEventStore() }, { describe, it, beforeAll, afterAll });
