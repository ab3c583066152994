// The relay's checkpoint record on PostgreSQL is named after its stream: a valid record name, and never one another
// stream's relay could share (which would make it resume from the wrong position and skip events).
import { createInMemoryReadStore, storeCheckpoint } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { relayCheckpointName } from './shop-relay.js';

describe('relayCheckpointName', () => {
  it('is readable, a valid record name, and different for streams that differ only in case or punctuation', () => {
    expect(relayCheckpointName('SHOP_EVENTS')).toMatch(/^relay_shop_events_[0-9a-f]{8}$/);
    const names = ['SHOP_EVENTS', 'shop_events', 'shop-events', 'SHOP__EVENTS', '_', '-', 'Ö', 'x'.repeat(255)].map(
      relayCheckpointName,
    );
    expect(new Set(names).size).toBe(names.length);
    const store = createInMemoryReadStore();
    // storeCheckpoint refuses any name a projection record may not have.
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(64);
      expect(() => storeCheckpoint({ store, name })).not.toThrow();
    }
  });
});
