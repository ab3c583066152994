// Leases and fencing between two PostgreSQL read stores with their own pools, as two projector processes would run.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FreshSchema, freshSchema, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresReadStore, type PostgresReadStore, type PostgresReadStoreOptions } from './postgres-read-store.js';
import type { PostgresReadTx } from './read-store-tx.js';

const TTL_MS = 300;
const EXPIRED_MS = TTL_MS + 200;

const schemas: FreshSchema[] = [];
const stores: PostgresReadStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Two stores on one fresh schema (worker A's and worker B's), and a projection served at checkpoint 0. */
async function twoWorkers(options: Partial<PostgresReadStoreOptions> = {}) {
  const fresh = freshSchema('leases');
  schemas.push(fresh);
  const open = () => {
    const store = createPostgresReadStore({
      connectionString: fresh.connectionString,
      schema: fresh.schema,
      poolSize: 3,
      ...options,
    });
    stores.push(store);
    return store;
  };
  const [a, b] = [open(), open()];
  const lease = (await a.leases.acquire('ledger', 'A', TTL_MS))!;
  const fenceA = { owner: 'A', token: lease.token };
  const generation = await a.beginGeneration(
    'ledger',
    1,
    (tx) => tx.run(`CREATE TABLE ${tx.table('rows')} (k text PRIMARY KEY, v bigint NOT NULL)`),
    fenceA,
  );
  await a.swapGeneration('ledger', generation, 0, fenceA);
  const write = (tx: PostgresReadTx, key: string) => tx.run(`INSERT INTO ${tx.table('rows')} (k, v) VALUES (?, 1)`, [key]);
  const rows = async () => {
    const reader = b.reader('ledger');
    return (await reader.all<{ k: string }>(`SELECT k FROM ${reader.table('rows')} ORDER BY k`)).map((r) => r.k);
  };
  return { a, b, fenceA, generation, write, rows };
}

describe.skipIf(!pgAvailable)('PostgreSQL read store leases', () => {
  it('a worker whose lease expired and was taken over can never commit again: LEASE_LOST, no rows, checkpoint unchanged', async () => {
    const { a, b, fenceA, generation, write, rows } = await twoWorkers();
    await a.apply('ledger', generation, (tx) => write(tx, 'a1'), 1, 0, fenceA);
    await sleep(EXPIRED_MS);
    const leaseB = await b.leases.acquire('ledger', 'B', 30_000);
    expect(leaseB).toMatchObject({ owner: 'B', token: fenceA.token + 1 });
    await expect(a.apply('ledger', generation, (tx) => write(tx, 'a2'), 2, 1, fenceA)).rejects.toMatchObject({
      code: 'LEASE_LOST',
      details: { owner: 'B', token: fenceA.token + 1, fence: fenceA },
    });
    expect(await rows()).toEqual(['a1']);
    expect(await a.load('ledger')).toMatchObject({ position: 1 });
    expect(await a.leases.acquire('ledger', 'A', TTL_MS)).toBeUndefined();
    await b.apply('ledger', generation, (tx) => write(tx, 'b2'), 2, 1, { owner: 'B', token: leaseB!.token });
    expect(await rows()).toEqual(['a1', 'b2']);
  });

  it('a takeover waits for a fenced transaction in flight; once it commits, the old holder is fenced off', async () => {
    const { a, b, fenceA, generation, write, rows } = await twoWorkers();
    const paused = gate();
    const inside = gate();
    // The read sends the guard, so A's transaction holds its lease row FOR SHARE while the handler waits.
    const inFlight = a.apply(
      'ledger',
      generation,
      async (tx) => {
        await write(tx, 'a1');
        await tx.get(`SELECT count(*) AS n FROM ${tx.table('rows')}`);
        inside.open();
        await paused.opened;
        await write(tx, 'a2');
      },
      2,
      0,
      fenceA,
    );
    await inside.opened;
    await sleep(EXPIRED_MS);
    let taken: unknown;
    const takeover = b.leases.acquire('ledger', 'B', 30_000).then((lease) => {
      taken = lease;
      return lease;
    });
    await sleep(300);
    expect(taken).toBeUndefined();
    paused.open();
    await inFlight;
    const leaseB = await takeover;
    expect(leaseB).toMatchObject({ owner: 'B', token: fenceA.token + 1 });
    expect(await rows()).toEqual(['a1', 'a2']);
    await expect(a.apply('ledger', generation, (tx) => write(tx, 'a3'), 3, 2, fenceA)).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    expect(await a.load('ledger')).toMatchObject({ position: 2 });
  });

  it('a fenced transaction left idle past idleInTransactionTimeoutMs is ended by the server, so it cannot hold a takeover up', async () => {
    const { a, b, fenceA, generation, write, rows } = await twoWorkers({ idleInTransactionTimeoutMs: 300 });
    const stuck = a.apply(
      'ledger',
      generation,
      async (tx) => {
        await write(tx, 'a1');
        await tx.get(`SELECT count(*) AS n FROM ${tx.table('rows')}`);
        await sleep(1500);
        await write(tx, 'a2');
      },
      2,
      0,
      fenceA,
    );
    let settled = false;
    stuck.then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(EXPIRED_MS);
    expect(await b.leases.acquire('ledger', 'B', 30_000)).toMatchObject({ owner: 'B' });
    // Taken while A's handler still sleeps: the takeover did not wait for A's transaction.
    expect(settled).toBe(false);
    // Its batch failed with the session; run again, it finds the lease gone.
    await expect(stuck).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await rows()).toEqual([]);
    expect(await b.load('ledger')).toMatchObject({ position: 0 });
  });

  it('of workers racing for an expired lease, exactly one takes it', async () => {
    const { a, b } = await twoWorkers();
    await sleep(EXPIRED_MS);
    const workers = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6'];
    const results = await Promise.all(workers.map((w, i) => (i % 2 ? a : b).leases.acquire('ledger', w, 30_000)));
    const won = results.filter((r) => r !== undefined);
    expect(won).toHaveLength(1);
    expect((await a.leases.list()).find((l) => l.projection === 'ledger')).toEqual(won[0]);
  });

  it('heartbeats from two stores see each other, in the server clock', async () => {
    const { a, b } = await twoWorkers();
    await a.leases.heartbeat('A', 30_000);
    const seen = await b.leases.heartbeat('B', 30_000);
    expect(seen.map((w) => w.id)).toEqual(['A', 'B']);
    for (const w of seen) expect(Date.parse(w.expiresAt) - Date.parse(w.lastSeen)).toBe(30_000);
  });
});
