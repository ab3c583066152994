// The state-stored conformance cases: what every store with `transact` must do for a state-stored write model — the
// row change and the events commit together or not at all, a refusal changes nothing, concurrent commands on one row
// serialise (one wins, the other decides again on the new state), idempotency keys hold — for an adapter to run in a
// few lines.
import assert from 'node:assert/strict';
import {
  andThen,
  type Command,
  createStateStoredHandler,
  type Decider,
  domainError,
  type EventStore,
  type StateStoredStore,
  type StoredState,
  type WriteTx,
} from 'chronicle-es';
import { assertCode as assertCodeOf, type ConformanceRunner, expectCode, storeBlocks } from './conformance-kit.js';
import { freshStream, range, token, within } from './event-store-case-kit.js';

/** What the suite runs against: an event store whose database also holds write tables. */
export type StateStoredHost = EventStore & StateStoredStore<WriteTx>;

/** Makes the stores under test. */
export type StateStoredStoreFactory = {
  create: () => StateStoredHost | Promise<StateStoredHost>;
  /** Another store over the same database (another process would open one): concurrent commands spread over both. */
  createPeer?: (first: StateStoredHost) => StateStoredHost | Promise<StateStoredHost>;
  /** Where the suite's write tables go, e.g. into the store's schema so dropping it drops them. Default: as named. */
  table?: (name: string) => string;
};

type Deposit = Command<'Deposit', { accountId: string; amount: number }>;
type Deposited = { type: 'Deposited'; data: { amount: number; balanceBefore: number } };
type Account = { balance: number };

const account: Decider<Deposit, Deposited, Account> = {
  initialState: { balance: 0 },
  decide(command, state) {
    if (command.data.amount <= 0) throw domainError('a deposit must be positive');
    return [{ type: 'Deposited', data: { amount: command.data.amount, balanceBefore: state.balance } }];
  },
  evolve: (state, event) => ({ balance: state.balance + event.data.amount }),
};

type Row = { balance: number; version: number };

/**
 * Registers the state-stored conformance cases for one adapter. Cases use fresh tables and stream ids, so one shared
 * database works.
 */
export function describeStateStoredConformance(name: string, factory: StateStoredStoreFactory, runner: ConformanceRunner): void {
  const { describe, it, beforeAll } = runner;
  const block = storeBlocks<StateStoredHost>(runner, factory.create);

  describe(`state-stored conformance: ${name}`, () => {
    block('one transaction for rows and events', (host) => {
      const table = (factory.table ?? ((n: string) => n))(`accounts_${token()}`);
      const loadRow = (tx: WriteTx, id: string) =>
        andThen(tx.get<Row>(`SELECT balance, version FROM ${table} WHERE id = ?`, [id]), (row) =>
          row === undefined ? undefined : { state: { balance: Number(row.balance) }, version: Number(row.version) },
        );
      const rowOf = async (id: string) => {
        let found: Row | undefined;
        await host().transact((tx) =>
          andThen(tx.get<Row>(`SELECT balance, version FROM ${table} WHERE id = ?`, [id]), (row) => {
            found = row === undefined ? undefined : { balance: Number(row.balance), version: Number(row.version) };
            return [];
          }),
        );
        return found;
      };
      const stream = (id: string) => `account-${id}`;
      const handlerOn = (store: StateStoredHost, maxRetries = 3) =>
        createStateStoredHandler({
          store,
          decider: account,
          maxRetries,
          streamId: (c) => stream(c.data.accountId),
          load: (tx, c): StoredState<Account> | undefined | Promise<StoredState<Account> | undefined> =>
            loadRow(tx, c.data.accountId),
          save: (tx, change) =>
            change.before === undefined
              ? tx.run(`INSERT INTO ${table} (id, balance, version) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, [
                  change.command.data.accountId,
                  change.after.balance,
                  change.version,
                ])
              : tx.run(`UPDATE ${table} SET balance = ?, version = ? WHERE id = ? AND version = ?`, [
                  change.after.balance,
                  change.version,
                  change.command.data.accountId,
                  change.expectedVersion,
                ]),
        });
      const deposit = (accountId: string, amount: number): Deposit => ({ type: 'Deposit', data: { accountId, amount } });
      const freshId = () => freshStream('acc').replace('-', '_');

      beforeAll(async () => {
        await host().transact((tx) =>
          andThen(
            tx.run(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)`),
            () => [],
          ),
        );
      });

      it('a command writes its row and emits an ordinary event of its stream, at a global position', async () => {
        const store = host();
        const handle = handlerOn(store);
        const id = freshId();
        const first = await handle(deposit(id, 5), {});
        const second = await handle(deposit(id, 7), {});
        assert.deepEqual(await rowOf(id), { balance: 12, version: 2 });
        assert.equal(second.streamId, stream(id));
        assert.equal(second.version, 2);
        assert.ok(second.position > first.position, 'positions grow');
        const events = await store.readStream(stream(id));
        assert.deepEqual(
          events.map((e) => [e.type, e.version, e.position, e.data]),
          [
            ['Deposited', 1, first.position, { amount: 5, balanceBefore: 0 }],
            ['Deposited', 2, second.position, { amount: 7, balanceBefore: 5 }],
          ],
        );
        assert.equal(events[0].metadata.command, 'Deposit');
        const all = await store.readAll({ from: first.position, limit: 1 });
        assert.equal(all[0]?.id, events[0].id, 'the global log holds the event at its position');
        // A subscriber sees it like any other event.
        const seen = await within(
          new Promise<string>((resolve, reject) => {
            const sub = store.subscribe({ from: second.position, pollIntervalMs: 20 }, (batch) => {
              const mine = batch.find((e) => e.streamId === stream(id));
              if (mine) {
                resolve(mine.id);
                void sub.stop();
              }
            });
            sub.done.catch(reject);
          }),
          'subscriber',
        );
        assert.equal(seen, events[1].id);
        assert.ok((await store.headPosition()) >= second.position);
      });

      it('a refused command changes no row and emits nothing', async () => {
        const store = host();
        const handle = handlerOn(store);
        const id = freshId();
        await handle(deposit(id, 3), {});
        await expectCode(() => handle(deposit(id, -1), {}), 'DOMAIN_RULE', 'negative deposit');
        assert.deepEqual(await rowOf(id), { balance: 3, version: 1 });
        assert.equal((await store.readStream(stream(id))).length, 1);
        const fresh = freshId();
        await expectCode(() => handle(deposit(fresh, 0), {}), 'DOMAIN_RULE', 'zero deposit');
        assert.equal(await rowOf(fresh), undefined);
        assert.equal((await store.streamInfo(stream(fresh))).version, 0);
      });

      it('a save that throws after writing its row leaves neither the row change nor an event', async () => {
        const store = host();
        const id = freshId();
        await handlerOn(store)(deposit(id, 4), {});
        const failing = createStateStoredHandler({
          store,
          decider: account,
          streamId: (c) => stream(c.data.accountId),
          load: (tx, c) => loadRow(tx, c.data.accountId),
          save: (tx, change) =>
            andThen(
              tx.run(`UPDATE ${table} SET balance = ?, version = ? WHERE id = ?`, [change.after.balance, change.version, id]),
              () => {
                throw new Error('disk on fire');
              },
            ),
        });
        await assert.rejects(failing(deposit(id, 10), {}), /disk on fire/);
        assert.deepEqual(await rowOf(id), { balance: 4, version: 1 });
        assert.equal((await store.streamInfo(stream(id))).version, 1);
      });

      it('events at a stale expected version conflict, and the row change of that transaction is undone', async () => {
        const store = host();
        const id = freshId();
        await handlerOn(store)(deposit(id, 2), {});
        await handlerOn(store)(deposit(id, 2), {});
        await expectCode(
          () =>
            store.transact((tx) =>
              andThen(tx.run(`UPDATE ${table} SET balance = 1000 WHERE id = ?`, [id]), () => [
                { streamId: stream(id), expectedVersion: 1, events: [{ type: 'Deposited', data: { amount: 996 } }] },
              ]),
            ),
          'CONCURRENCY_CONFLICT',
          'stale version',
        );
        assert.deepEqual(await rowOf(id), { balance: 4, version: 2 });
        assert.equal((await store.streamInfo(stream(id))).version, 2);
      });

      it('a save whose row changed meanwhile (no row changed) is retried on the new state', async () => {
        const store = host();
        const id = freshId();
        await handlerOn(store)(deposit(id, 1), {});
        let saves = 0;
        const racing = createStateStoredHandler({
          store,
          decider: account,
          streamId: (c) => stream(c.data.accountId),
          load: (tx, c) => loadRow(tx, c.data.accountId),
          // The first save finds the row at another version, as if another command had got there first.
          save: (tx, change) =>
            tx.run(`UPDATE ${table} SET balance = ?, version = ? WHERE id = ? AND version = ?`, [
              change.after.balance,
              change.version,
              id,
              ++saves === 1 ? -1 : change.expectedVersion,
            ]),
        });
        const result = await racing(deposit(id, 2), {});
        assert.equal(saves, 2);
        assert.equal(result.version, 2);
        assert.deepEqual(await rowOf(id), { balance: 3, version: 2 });
        assert.equal((await store.readStream(stream(id))).length, 2);
      });

      it('concurrent commands on one row: each decides on the state the one before it wrote', async () => {
        const store = host();
        const peer = factory.createPeer ? await factory.createPeer(store) : undefined;
        try {
          const stores = peer ? [store, peer] : [store];
          const handlers = stores.map((s) => handlerOn(s, 100));
          const id = freshId();
          const amounts = range(16).map((i) => i + 1);
          const results = await Promise.all(amounts.map((a, i) => handlers[i % handlers.length](deposit(id, a), {})));
          const total = amounts.reduce((x, y) => x + y, 0);
          assert.deepEqual(await rowOf(id), { balance: total, version: amounts.length });
          assert.deepEqual(
            results.map((r) => r.version).sort((x, y) => x - y),
            range(16).map((i) => i + 1),
          );
          const events = await store.readStream(stream(id));
          // Every event's balanceBefore is the sum of the amounts before it: no command decided on a state another
          // had already moved past.
          let running = 0;
          for (const e of events) {
            const data = e.data as Deposited['data'];
            assert.equal(data.balanceBefore, running, `event ${e.version} decided on a stale balance`);
            running += data.amount;
          }
          assert.equal(running, total);
        } finally {
          await peer?.close();
        }
      });

      it('commands in flight together each get their own outcome: the refused, failing and stale ones leave nothing', async () => {
        const store = host();
        const handle = handlerOn(store);
        const ids = range(12).map(() => freshId());
        for (const id of ids) await handle(deposit(id, 1), {});
        const outcomes = await Promise.allSettled(
          ids.map((id, i) => {
            if (i % 4 === 1) return handle(deposit(id, -5), {});
            if (i % 4 === 2) {
              return store.transact((tx) =>
                andThen(tx.run(`UPDATE ${table} SET balance = 500 WHERE id = ?`, [id]), () => {
                  throw new Error(`fails ${id}`);
                }),
              );
            }
            if (i % 4 === 3) {
              return store.transact((tx) =>
                andThen(tx.run(`UPDATE ${table} SET balance = 700 WHERE id = ?`, [id]), () => [
                  { streamId: stream(id), expectedVersion: 0, events: [{ type: 'Deposited', data: { amount: 699 } }] },
                ]),
              );
            }
            return handle(deposit(id, 10), {});
          }),
        );
        for (let i = 0; i < ids.length; i++) {
          const outcome = outcomes[i];
          const row = await rowOf(ids[i]);
          const version = (await store.streamInfo(stream(ids[i]))).version;
          if (i % 4 === 0) {
            assert.equal(outcome.status, 'fulfilled', `command ${i}`);
            assert.deepEqual([row, version], [{ balance: 11, version: 2 }, 2]);
          } else {
            assert.equal(outcome.status, 'rejected', `command ${i}`);
            const reason = (outcome as PromiseRejectedResult).reason as { code?: string; message: string };
            if (i % 4 === 1) assert.equal(reason.code, 'DOMAIN_RULE');
            if (i % 4 === 2) assert.match(reason.message, /fails/);
            if (i % 4 === 3) assert.equal(reason.code, 'CONCURRENCY_CONFLICT');
            assert.deepEqual([row, version], [{ balance: 1, version: 1 }, 1], `command ${i} left something`);
          }
        }
      });

      it('a unique index: of two commands taking one value, one wins and the other, retried, is refused', async () => {
        const store = host();
        const peer = factory.createPeer ? await factory.createPeer(store) : store;
        try {
          const claims = (factory.table ?? ((n: string) => n))(`claims_${token()}`);
          await store.transact((tx) =>
            andThen(
              tx.run(`CREATE TABLE ${claims} (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, version INTEGER NOT NULL)`),
              () => [],
            ),
          );
          type Claim = Command<'Claim', { ownerId: string; email: string }>;
          type Claimed = { type: 'Claimed'; data: { email: string } };
          type Owner = { holder: string | undefined };
          const claim = (on: StateStoredHost) =>
            createStateStoredHandler({
              store: on,
              decider: {
                initialState: { holder: undefined },
                decide: (c: Claim, s: Owner): Claimed[] => {
                  if (s.holder !== undefined) throw domainError(`${c.data.email} is taken`);
                  return [{ type: 'Claimed', data: { email: c.data.email } }];
                },
                evolve: (_s: Owner, e: Claimed) => ({ holder: e.data.email }),
              } satisfies Decider<Claim, Claimed, Owner>,
              streamId: (c) => `claimant-${c.data.ownerId}`,
              // The state a claim decides on is whether anyone holds the address; the unique index is the guard.
              load: (tx, c) =>
                andThen(tx.get<{ id: string }>(`SELECT id FROM ${claims} WHERE email = ?`, [c.data.email]), (row) =>
                  row === undefined ? undefined : { state: { holder: row.id }, version: 0 },
                ),
              save: (tx, change) =>
                tx.run(`INSERT INTO ${claims} (id, email, version) VALUES (?, ?, ?)`, [
                  change.command.data.ownerId,
                  change.command.data.email,
                  change.version,
                ]),
            });
          const email = `${token()}@example.com`;
          const owners = range(6).map(() => token());
          const outcomes = await Promise.allSettled(
            owners.map((ownerId, i) => claim(i % 2 === 0 ? store : peer)({ type: 'Claim', data: { ownerId, email } }, {})),
          );
          assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'exactly one claim wins');
          for (const o of outcomes) {
            if (o.status === 'rejected') assertCodeOf(o.reason, 'DOMAIN_RULE', 'the losing claim');
          }
          const winner = owners[outcomes.findIndex((o) => o.status === 'fulfilled')];
          let held: unknown[] = [];
          await store.transact((tx) =>
            andThen(tx.all(`SELECT id FROM ${claims} WHERE email = ?`, [email]), (rows) => {
              held = rows;
              return [];
            }),
          );
          assert.deepEqual(held, [{ id: winner }]);
          for (const ownerId of owners) {
            assert.equal((await store.streamInfo(`claimant-${ownerId}`)).version, ownerId === winner ? 1 : 0);
          }
        } finally {
          if (peer !== store) await peer.close();
        }
      });

      it('an idempotency key: the repeat changes nothing and answers with the first result; other data is refused', async () => {
        const store = host();
        const handle = handlerOn(store);
        const id = freshId();
        const key = `k-${token()}`;
        const first = await handle(deposit(id, 5), { idempotencyKey: key });
        const again = await handle(deposit(id, 5), { idempotencyKey: key });
        assert.deepEqual(again, first);
        await expectCode(() => handle(deposit(id, 6), { idempotencyKey: key }), 'IDEMPOTENCY_MISMATCH', 'other data');
        assert.deepEqual(await rowOf(id), { balance: 5, version: 1 });
        assert.equal((await store.readStream(stream(id))).length, 1);
        // Concurrent repeats of one key: one write.
        const other = freshId();
        const key2 = `k-${token()}`;
        const all = await Promise.all(range(6).map(() => handle(deposit(other, 2), { idempotencyKey: key2 })));
        assert.equal(new Set(all.map((r) => r.position)).size, 1);
        assert.deepEqual(await rowOf(other), { balance: 2, version: 1 });
      });

      it('bad input is refused and changes nothing', async () => {
        const store = host();
        const id = freshId();
        await handlerOn(store)(deposit(id, 1), {});
        await expectCode(() => store.transact(42 as never), 'INVALID_ARGUMENT', 'not a function');
        await expectCode(
          () =>
            store.transact((tx) =>
              andThen(tx.run(`UPDATE ${table} SET balance = 99 WHERE id = ?`, [id]), () => [
                { streamId: '', events: [{ type: 'Deposited', data: {} }] },
              ]),
            ),
          'INVALID_ARGUMENT',
          'empty stream id',
        );
        await expectCode(() => store.transact(() => [], { idempotencyKey: '' }), 'INVALID_ARGUMENT', 'empty idempotency key');
        await expectCode(
          () => store.transact((tx) => andThen(tx.run('SELECT * FROM no_such_table_here'), () => [])),
          'STORE_ERROR',
          'bad SQL',
        );
        assert.deepEqual(await rowOf(id), { balance: 1, version: 1 });
      });
    });
  });
}
