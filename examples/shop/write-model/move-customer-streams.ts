// The migration path from event-sourced customers to the customers table: every customer stream of the log, folded
// with the customer decider, becomes its row at the stream's version, so state-stored commands continue each stream
// where it stands. Safe to run again (and beside a live write side): a row already there is left alone.
import { andThen, type EventStore, type StateStoredStore, type WriteTx } from 'chronicle-es';
import { type CustomerState, customer } from '../domain/customer.js';
import { CustomerDetailsUpdated, CustomerForgotten, CustomerRegistered } from '../messages/customers.js';
import { saveCustomer } from './customer-rows.js';

const PAGE = 1_000;

/** Moves the customer streams into the customers table; returns how many rows it wrote. @throws STORE_ERROR */
export async function moveCustomerStreams(store: EventStore & StateStoredStore<WriteTx>): Promise<number> {
  const customers = new Map<string, { state: CustomerState; version: number }>();
  for (let from = 0; ; ) {
    const page = await store.readAll({ from, limit: PAGE, filter: { categories: ['customer'] } });
    for (const event of page) {
      const current = customers.get(event.streamId) ?? { state: customer.initialState, version: 0 };
      // The row's version is its stream's, whatever else the stream holds: the next command appends right after it.
      current.version = event.version;
      // Read through the events' own schemas, as a projection reads them: a malformed stored event fails here.
      if (event.type === CustomerRegistered.type) {
        current.state = customer.evolve(current.state, {
          type: 'CustomerRegistered',
          data: CustomerRegistered.schema.parse(event.data),
        });
      } else if (event.type === CustomerDetailsUpdated.type) {
        current.state = customer.evolve(current.state, {
          type: 'CustomerDetailsUpdated',
          data: CustomerDetailsUpdated.schema.parse(event.data),
        });
      } else if (event.type === CustomerForgotten.type) {
        current.state = customer.evolve(current.state, {
          type: 'CustomerForgotten',
          data: CustomerForgotten.schema.parse(event.data),
        });
      }
      customers.set(event.streamId, current);
    }
    if (page.length < PAGE) break;
    from = page[page.length - 1].position + 1;
  }
  let written = 0;
  for (const { state, version } of customers.values()) {
    if (state.status === 'none') continue;
    // Each row in its own transaction: a customer the write side already moved on is skipped (0 changes), not failed.
    await store.transact((tx) =>
      andThen(saveCustomer(tx, state, 0, version), (saved) => {
        if (saved.changes > 0) written++;
        return [];
      }),
    );
  }
  return written;
}
