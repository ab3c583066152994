// What a projection and a command handler see of each lifecycle operation, on every store: a live projection keeps
// what it applied, a rebuild sees only what is left; a decider sees only what readStream returns, a snapshot above a
// truncation point stays good and one below it is not used. The README's "Stream lifecycle" quotes its regions.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCommandHandler,
  createInMemoryEventStore,
  createInMemoryReadStore,
  createProjector,
  type Decider,
  defineProjection,
  type EventStore,
  type InMemoryReadTx,
  type StreamLifecycle,
} from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

type Add = { type: 'Add'; data: { id: string; n: number } };
type Added = { type: 'Added'; data: { n: number } };
type Ledger = { total: number; count: number };
const seen: Ledger[] = [];
const ledger: Decider<Add, Added, Ledger> = {
  initialState: { total: 0, count: 0 },
  decide: (c, s) => {
    seen.push(s);
    return [{ type: 'Added', data: { n: c.data.n } }];
  },
  evolve: (s, e) => ({ total: s.total + e.data.n, count: s.count + 1 }),
};

// Per stream: how many events the projection applied and their sum.
const balances = defineProjection<InMemoryReadTx>({
  name: 'balances',
  version: 1,
  handlers: {
    Added: async (event, tx) => {
      const rows = tx.table<{ count: number; total: number }>('balances');
      const row = rows.get(event.streamId) ?? { count: 0, total: 0 };
      rows.set(event.streamId, { count: row.count + 1, total: row.total + (event.data as { n: number }).n });
    },
  },
});

// #region lifecycle
async function retireAccounts(store: EventStore, lifecycle: StreamLifecycle) {
  // Keep the tail: versions 1 and 2 leave the stream and the global log; the next append is version 5.
  await lifecycle.truncate('account-kept', { before: 3 });
  // Close a stream, then move its events out of the log into the archive (same database).
  await store.deleteStream('account-closed');
  await lifecycle.archive('account-closed');
  const archived = await lifecycle.readArchived('account-closed'); // as recorded: ids, versions, positions
  // Hard delete: events and snapshots removed, the id refused for good (STREAM_DELETED, details.tombstoned).
  await lifecycle.tombstone('account-gone');
  // Reads of a stream return only its last 100 events, or those of the last 30 days (readAll is untouched).
  await store.setStreamMetadata('account-kept', { maxCount: 100, maxAge: 30 * 24 * 3600 });
  return archived;
}
// #endregion lifecycle

const dir = mkdtempSync(join(tmpdir(), 'chronicle-lifecycle-'));
const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(schemas.map((s) => s.drop()));
});

const stores: Array<[string, () => EventStore, boolean]> = [
  ['memory', () => createInMemoryEventStore(), true],
  ['sqlite', () => createSqliteEventStore({ path: join(dir, `${randomUUID()}.db`) }), true],
  [
    'postgres',
    () => {
      const fresh = freshSchema('lifeproj');
      schemas.push(fresh);
      return createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 4 });
    },
    pgAvailable,
  ],
];

const added = (...ns: number[]) => ns.map((n) => ({ type: 'Added', data: { n } }));

describe.each(stores)('stream lifecycle seen by projections and deciders: %s', (_name, open, available) => {
  it.skipIf(!available)('a live projection keeps what it applied; a rebuild sees only what is left in the log', async () => {
    const store = open();
    const read = createInMemoryReadStore();
    const projector = createProjector({ eventStore: store, readStore: read, projections: [balances] });
    try {
      const [kept, closed, gone] = ['account-kept', 'account-closed', 'account-gone'];
      await store.append(kept, added(1, 2, 3, 4));
      await store.append(closed, added(10, 20));
      await store.append(gone, added(100));
      await projector.start();
      await projector.waitForPosition(await store.headPosition());
      const row = (id: string) => read.reader('balances').table<{ count: number; total: number }>('balances').get(id);
      expect(row(kept)).toEqual({ count: 4, total: 10 });

      const lifecycle = store.lifecycle;
      if (!lifecycle) throw new Error('the store has no lifecycle');
      const archived = await retireAccounts(store, lifecycle);
      expect(archived.map((e) => e.version)).toEqual([1, 2]);
      const last = await store.append(kept, added(5));
      expect(last.version).toBe(5);

      // The live projection applied the removed events before: it keeps them, and goes on with the new one.
      await projector.waitForPosition(last.position);
      expect(row(kept)).toEqual({ count: 5, total: 15 });
      expect(row(closed)).toEqual({ count: 2, total: 30 });
      expect(row(gone)).toEqual({ count: 1, total: 100 });

      // A rebuild reads the log from the start: the truncated, archived and tombstoned events are not there.
      await projector.rebuild('balances');
      expect(row(kept)).toEqual({ count: 3, total: 12 });
      expect(row(closed)).toBeUndefined();
      expect(row(gone)).toBeUndefined();
    } finally {
      await projector.stop();
      await store.close();
    }
  });

  it.skipIf(!available)(
    'a decider sees only what readStream returns; a snapshot below the truncation point is not used',
    async () => {
      const store = open();
      try {
        const handle = createCommandHandler({
          store,
          decider: ledger,
          streamId: (c: Add) => c.data.id,
          cacheSize: 0,
          snapshot: { every: 1000, version: 1 },
        });
        const add = (id: string, n: number): Add => ({ type: 'Add', data: { id, n } });
        const snapshots = store.snapshots;
        if (!snapshots || !store.lifecycle) throw new Error('the store has no snapshots or lifecycle');

        // Below: taken at version 2, the stream truncated before 4. Used, it would bring back versions 1 and 2.
        const below = 'ledger-below';
        await store.append(below, added(1, 2, 3, 4, 5));
        const [, second] = await store.readStream(below);
        await snapshots.saveSnapshot({
          streamId: below,
          name: 'state',
          version: 1,
          streamVersion: 2,
          position: second.position,
          state: { total: 3, count: 2 },
        });
        await store.lifecycle.truncate(below, { before: 4 });
        await handle(add(below, 0), {});
        expect(seen.at(-1)).toEqual({ total: 9, count: 2 });

        // Above: taken at version 4 (its event still there), the stream truncated before 3: it stays good.
        const above = 'ledger-above';
        await store.append(above, added(1, 2, 3, 4, 5));
        const fourth = (await store.readStream(above))[3];
        await snapshots.saveSnapshot({
          streamId: above,
          name: 'state',
          version: 1,
          streamVersion: 4,
          position: fourth.position,
          state: { total: 1000, count: 4 },
        });
        await store.lifecycle.truncate(above, { before: 3 });
        await handle(add(above, 0), {});
        expect(seen.at(-1)).toEqual({ total: 1005, count: 5 });

        // maxCount: the decider folds the last two events only.
        const capped = 'ledger-capped';
        await store.append(capped, added(1, 2, 3, 4));
        await store.setStreamMetadata(capped, { maxCount: 2 });
        await handle(add(capped, 0), {});
        expect(seen.at(-1)).toEqual({ total: 7, count: 2 });
        expect((await store.readStream(capped)).map((e) => e.version)).toEqual([4, 5]);
      } finally {
        await store.close();
      }
    },
  );
});
