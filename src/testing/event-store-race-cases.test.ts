import { createInMemoryEventStore, type EventStore } from 'chronicle-es';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRaceCases } from './event-store-race-cases.js';

// The race cases with a peer, on the in-memory store: its "peer" is a facade over the same instance that counts what
// it is asked to do, so the cases show they spread their work over both instances and close both, peer first.
const closed: string[] = [];
const peerCalls = { read: 0, append: 0, appendMany: 0 };

function tracked(store: EventStore, name: string): EventStore {
  return {
    ...store,
    async close() {
      closed.push(name);
      if (name === 'first') await store.close();
    },
  };
}

function countingPeer(first: EventStore): EventStore {
  return tracked(
    {
      ...first,
      read(query, options) {
        peerCalls.read++;
        return first.read(query, options);
      },
      append: ((...args: Parameters<EventStore['append']>) => {
        peerCalls.append++;
        return first.append(...args);
      }) as EventStore['append'],
      appendMany(writes, options) {
        peerCalls.appendMany++;
        return first.appendMany(writes, options);
      },
    },
    'peer',
  );
}

describe('race cases over a store and its peer', () => {
  describeRaceCases(
    { create: () => tracked(createInMemoryEventStore(), 'first'), createPeer: countingPeer },
    { describe, it, beforeAll, afterAll },
  );

  // Runs after the block above has finished, its afterAll included.
  it('spread reads and all append forms over the peer, and closed the peer, then the store', () => {
    expect(peerCalls.read).toBeGreaterThan(0);
    expect(peerCalls.append).toBeGreaterThan(0);
    expect(peerCalls.appendMany).toBeGreaterThan(0);
    expect(closed).toEqual(['peer', 'first']);
  });
});
