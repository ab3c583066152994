// Customers as a state-stored write model: the customers table (migrations/) is the state, the same decider as the
// event-sourced customer decides, and the events it emits are the same CustomerRegistered / CustomerDetailsUpdated on
// the same customer-<id> streams, so every projection and the order decision read them unchanged. E-mail uniqueness
// is the unique index on customers.email_normalized: a registration racing another for one address conflicts there,
// and on its retry its load sees the holder and it is refused.
import { fileURLToPath } from 'node:url';
import {
  andThen,
  type CommandHandler,
  type CommandOf,
  createStateStoredHandler,
  type Decider,
  type MaybePromise,
  runMigrations,
  type StateStoredStore,
  type StoredState,
  sqlMigrationsIn,
  type WriteTx,
} from 'chronicle-es';
import { type CustomerCommand, type CustomerEvent, type CustomerState, customer, customerStreamId } from '../domain/customer.js';
import { checkEmailFree } from '../domain/email-owner.js';
import { emailTag } from '../domain/tags.js';
import type { ForgetCustomer, RegisterCustomer, UpdateCustomerDetails } from '../messages/customers.js';
import { type Address, normalizeEmail } from '../messages/fields.js';

/** The migrations of the customers tables. */
export const customerMigrations = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Creates (or brings up to date) the customers tables. @throws STORE_ERROR, INVALID_ARGUMENT as runMigrations */
export async function migrateCustomerTables(store: StateStoredStore<WriteTx>) {
  return runMigrations({ store, migrations: await sqlMigrationsIn(customerMigrations), table: 'shop_migrations' });
}

/** A customer row and, when the command names an address, who holds it. */
type RowState = { customer: CustomerState; emailHolder: string | undefined };

type CustomerRow = { customer_id: string; name: string; email: string; version: number; forgotten: number };
type AddressRow = { street: string; city: string; postal_code: string; country: string };

const requestedEmail = (command: CustomerCommand) => ('email' in command.data ? command.data.email : undefined);

// The customer decider plus the e-mail rule, over the row and the holder of the requested address.
const customerRow: Decider<CustomerCommand, CustomerEvent, RowState> = {
  initialState: { customer: customer.initialState, emailHolder: undefined },
  decide(command, state) {
    const events = customer.decide(command, state.customer);
    // Forgetting releases the address the customer holds: its tag, as on the event-sourced side.
    if (command.type === 'ForgetCustomer') {
      const tags = state.customer.status === 'registered' ? [emailTag(state.customer.email)] : [];
      return events.map((event) => ({ ...event, tags }));
    }
    const email = requestedEmail(command);
    if (email === undefined || events.length === 0) return events;
    checkEmailFree(email, command.data.customerId, { email: normalizeEmail(email), owner: state.emailHolder });
    // The address tags the event-sourced side writes (domain/customer.ts), so both write models' events read alike.
    const held = state.customer.status === 'registered' ? [emailTag(state.customer.email)] : [];
    const tags = [...new Set([emailTag(email), ...held])];
    return events.map((event) => ({ ...event, tags }));
  },
  evolve: (state, event) => ({ ...state, customer: customer.evolve(state.customer, event) }),
};

/** The row of a customer as its state (undefined when there is none). */
export function loadCustomer(tx: WriteTx, customerId: string): MaybePromise<StoredState<CustomerState> | undefined> {
  return andThen(
    tx.get<CustomerRow>('SELECT customer_id, name, email, version, forgotten FROM customers WHERE customer_id = ?', [customerId]),
    (row) =>
      row === undefined
        ? undefined
        : Number(row.forgotten) !== 0
          ? { state: { status: 'forgotten', customerId }, version: Number(row.version) }
          : andThen(
              tx.get<AddressRow>('SELECT street, city, postal_code, country FROM customer_addresses WHERE customer_id = ?', [
                customerId,
              ]),
              (a) => {
                const address: Address | undefined =
                  a === undefined ? undefined : { street: a.street, city: a.city, postalCode: a.postal_code, country: a.country };
                const state: CustomerState = {
                  status: 'registered',
                  customerId,
                  name: row.name,
                  email: row.email,
                  ...(address && { address }),
                };
                return { state, version: Number(row.version) };
              },
            ),
  );
}

// What a forgotten customer's row holds in place of its e-mail: unique (the index needs a value) and naming no person.
const forgottenEmail = (customerId: string) => `forgotten:${customerId}`;

/** Writes a customer's state at `version`; 0 changes when its row moved since `expectedVersion` (a conflict). */
export function saveCustomer(tx: WriteTx, after: CustomerState, expectedVersion: number, version: number) {
  if (after.status === 'none') throw new Error('a customer row holds a registered or forgotten customer');
  if (after.status === 'forgotten') return saveForgotten(tx, after.customerId, expectedVersion, version);
  const { customerId, name, email, address } = after;
  const row =
    expectedVersion === 0
      ? tx.run(
          `INSERT INTO customers (customer_id, name, email, email_normalized, version) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (customer_id) DO NOTHING`,
          [customerId, name, email, normalizeEmail(email), version],
        )
      : tx.run(
          'UPDATE customers SET name = ?, email = ?, email_normalized = ?, version = ? WHERE customer_id = ? AND version = ?',
          [name, email, normalizeEmail(email), version, customerId, expectedVersion],
        );
  return andThen(row, (saved) => {
    if (saved.changes === 0) return saved;
    return andThen(tx.run('DELETE FROM customer_addresses WHERE customer_id = ?', [customerId]), () =>
      address === undefined
        ? saved
        : andThen(
            tx.run('INSERT INTO customer_addresses (customer_id, street, city, postal_code, country) VALUES (?, ?, ?, ?, ?)', [
              customerId,
              address.street,
              address.city,
              address.postalCode,
              address.country,
            ]),
            () => saved,
          ),
    );
  });
}

// A forgotten customer: its personal values blanked (secure_delete on the store's file zeroes the old ones), its address
// deleted, its e-mail freed for another customer.
function saveForgotten(tx: WriteTx, customerId: string, expectedVersion: number, version: number) {
  const row =
    expectedVersion === 0
      ? tx.run(
          `INSERT INTO customers (customer_id, name, email, email_normalized, version, forgotten) VALUES (?, '', '', ?, ?, 1)
           ON CONFLICT (customer_id) DO NOTHING`,
          [customerId, forgottenEmail(customerId), version],
        )
      : tx.run(
          `UPDATE customers SET name = '', email = '', email_normalized = ?, version = ?, forgotten = 1
           WHERE customer_id = ? AND version = ?`,
          [forgottenEmail(customerId), version, customerId, expectedVersion],
        );
  return andThen(row, (saved) =>
    saved.changes === 0
      ? saved
      : andThen(tx.run('DELETE FROM customer_addresses WHERE customer_id = ?', [customerId]), () => saved),
  );
}

/** The handler of RegisterCustomer, UpdateCustomerDetails and ForgetCustomer on the customers table. */
export function customerRowHandler(store: StateStoredStore<WriteTx>, maxRetries = 100): CommandHandler<CustomerCommand> {
  return createStateStoredHandler({
    store,
    decider: customerRow,
    maxRetries,
    streamId: (c) => customerStreamId(c.data.customerId),
    // The customer's key, fetched or created before the transaction (the store encrypts its events' personal fields);
    // CustomerForgotten carries none, and forgetting must not create a key again.
    subjects: (c) => (c.type === 'ForgetCustomer' ? [] : [c.data.customerId]),
    load: (tx, command) =>
      andThen(loadCustomer(tx, command.data.customerId), (stored) => {
        const email = requestedEmail(command);
        const holder =
          email === undefined
            ? undefined
            : tx.get<{ customer_id: string }>('SELECT customer_id FROM customers WHERE email_normalized = ?', [
                normalizeEmail(email),
              ]);
        return andThen(holder, (h) =>
          stored === undefined && h === undefined
            ? undefined
            : {
                state: { customer: stored?.state ?? customer.initialState, emailHolder: h?.customer_id },
                version: stored?.version ?? 0,
              },
        );
      }),
    save: (tx, change) => saveCustomer(tx, change.after.customer, change.expectedVersion, change.version),
  });
}

export type CustomerRowCommand =
  | CommandOf<typeof RegisterCustomer>
  | CommandOf<typeof UpdateCustomerDetails>
  | CommandOf<typeof ForgetCustomer>;
