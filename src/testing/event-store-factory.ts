// How an adapter hands its stores to the event-store conformance suite.
import type { EventStore } from 'chronicle-es';

/** Makes the stores under test: `create` is called once per describe block, and the suite closes what it gets. */
export type EventStoreFactory = {
  create: () => EventStore | Promise<EventStore>;
  /**
   * Another store over the same data as `first`: a second connection pool, a second handle on the same file, as
   * another process would open. When given, the race cases spread their readers and appenders over both instances,
   * so an append condition must hold across them, not only inside one; the suite closes the peer (before `first`).
   * Leave it out for a store whose data lives in one instance (in memory).
   */
  createPeer?: (first: EventStore) => EventStore | Promise<EventStore>;
};
