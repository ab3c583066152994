import {
  createInMemoryEventStore,
  createProjector,
  defineProjection,
  type EventStore,
  type Projector,
  type RecordedEvent,
} from 'chronicle-es';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type FreshSchema, freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresReadStore, type PostgresReadStore, type PostgresReadStoreOptions } from './postgres-read-store.js';
import type { PostgresReadTx } from './read-store-tx.js';

const schemas: FreshSchema[] = [];
const stores: PostgresReadStore[] = [];
const projectors: Projector[] = [];
const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });

function schema(): FreshSchema {
  const fresh = freshSchema('read');
  schemas.push(fresh);
  return fresh;
}
function storeIn(fresh: FreshSchema, options: Partial<PostgresReadStoreOptions> = {}): PostgresReadStore {
  const store = createPostgresReadStore({
    connectionString: fresh.connectionString,
    schema: fresh.schema,
    poolSize: 4,
    ...options,
  });
  stores.push(store);
  return store;
}
function projectorOf(...args: Parameters<typeof createProjector<PostgresReadTx>>) {
  const p = createProjector(...args);
  projectors.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  await admin.end();
});

type Added = { account: string; amount: number };

// Counts applications per event and sums per account, so a repeat or a gap shows. `amount` must be ≥ 0 (a CHECK):
// a negative one makes the statement fail on the server, not in the handler.
function ledger(
  options: {
    name?: string;
    version?: number;
    delay?: () => Promise<void>;
    readFirst?: boolean;
    fail?: (e: RecordedEvent) => boolean;
  } = {},
) {
  const factor = options.version ?? 1;
  return defineProjection<PostgresReadTx>({
    name: options.name ?? 'ledger',
    version: factor,
    async setup(tx) {
      await tx.run(`CREATE TABLE ${tx.table('applied')} (position bigint PRIMARY KEY, applied integer NOT NULL)`);
      await tx.run(
        `CREATE TABLE ${tx.table('balances')} (account text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))`,
      );
      await tx.run(`CREATE INDEX ${tx.table('balances_by_balance')} ON ${tx.table('balances')} (balance)`);
    },
    handlers: {
      async Added(event, tx) {
        if (options.delay) await options.delay();
        if (options.fail?.(event)) throw new Error(`cannot apply ${event.position}`);
        const { account, amount } = event.data as Added;
        if (options.readFirst) await tx.get(`SELECT balance FROM ${tx.table('balances')} WHERE account = ?`, [account]);
        await tx.run(
          `INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)
           ON CONFLICT (position) DO UPDATE SET applied = ${tx.table('applied')}.applied + 1`,
          [event.position],
        );
        await tx.run(
          `INSERT INTO ${tx.table('balances')} (account, balance) VALUES (?, ?)
           ON CONFLICT (account) DO UPDATE SET balance = ${tx.table('balances')}.balance + excluded.balance`,
          [account, amount * factor],
        );
      },
    },
  });
}

async function seed(store: EventStore, n: number, data: (i: number) => Added = (i) => ({ account: `a${i % 3}`, amount: 1 })) {
  for (let i = 0; i < n; i += 50) {
    const byStream = new Map<string, Array<{ type: string; data: Added }>>();
    for (let j = i; j < Math.min(n, i + 50); j++) {
      const streamId = `acc-${j % 5}`;
      byStream.set(streamId, [...(byStream.get(streamId) ?? []), { type: 'Added', data: data(j) }]);
    }
    await store.appendMany([...byStream].map(([streamId, events]) => ({ streamId, events })));
  }
  return store.headPosition();
}

const appliedCounts = async (read: PostgresReadStore, name = 'ledger') => {
  const reader = read.reader(name);
  return reader.get<{ n: number; total: number; max: number }>(
    `SELECT count(*) AS n, sum(applied)::int8 AS total, max(applied) AS max FROM ${reader.table('applied')}`,
  );
};
const balance = async (read: PostgresReadStore, account: string, name = 'ledger') => {
  const reader = read.reader(name);
  return (await reader.get<{ balance: number }>(`SELECT balance FROM ${reader.table('balances')} WHERE account = ?`, [account]))
    ?.balance;
};
const physicalTables = async (fresh: FreshSchema, prefix = 'ledger') => {
  const { rows } = await admin.query<{ relname: string }>(
    `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r' AND starts_with(relname, $2) ORDER BY relname COLLATE "C"`,
    [fresh.schema, prefix],
  );
  return rows.map((r) => r.relname);
};

describe.skipIf(!pgAvailable)('PostgreSQL read store', () => {
  it('projects from an event store, names tables by generation and reads the active one', async () => {
    const fresh = schema();
    const events = createInMemoryEventStore();
    const read = storeIn(fresh);
    const head = await seed(events, 300);
    const projector = projectorOf({ eventStore: events, readStore: read, projections: [ledger()], batchSize: 64 });
    await projector.start();
    await projector.waitForPosition(head);
    expect(await appliedCounts(read)).toEqual({ n: 300, total: 300, max: 1 });
    expect(await balance(read, 'a0')).toBe(100);
    expect(read.reader('ledger').table('balances')).toBe(`"${fresh.schema}"."ledger__balances__g1"`);
    expect(await physicalTables(fresh)).toEqual(['ledger__applied__g1', 'ledger__balances__g1']);
    const [status] = await projector.status();
    expect(status).toMatchObject({ position: head, lagEvents: 0, state: 'live' });
  });

  it('applies every event exactly once across stop, close, reopen and start', async () => {
    const fresh = schema();
    const events = createInMemoryEventStore();
    await seed(events, 400);
    const slow = () => new Promise<void>((r) => setImmediate(r));
    const first = storeIn(fresh);
    const one = createProjector({ eventStore: events, readStore: first, projections: [ledger({ delay: slow })], batchSize: 9 });
    await one.start();
    await one.waitForPosition(100);
    await one.stop();
    await first.close();
    await seed(events, 100);

    const second = storeIn(fresh);
    const stoppedAt = (await second.load('ledger'))!.position;
    expect(stoppedAt).toBeGreaterThanOrEqual(100);
    expect(stoppedAt).toBeLessThan(400);
    const two = projectorOf({ eventStore: events, readStore: second, projections: [ledger()], batchSize: 9 });
    await two.start();
    await two.waitForPosition(500);
    expect(await appliedCounts(second)).toEqual({ n: 500, total: 500, max: 1 });
  });

  for (const readFirst of [false, true]) {
    it(`a statement the server refuses fails only its own event, which the projector isolates${readFirst ? ' (handlers that read)' : ''}`, async () => {
      const fresh = schema();
      const events = createInMemoryEventStore();
      const read = storeIn(fresh);
      // One event takes account b below 0: the CHECK refuses its upsert when the batch reaches the server.
      const head = await seed(events, 40, (i) => ({ account: 'b', amount: i === 25 ? -1000 : 1 }));
      const poison = (await events.readAll()).find((e) => (e.data as Added).amount < 0)!.position;
      expect(poison).toBeGreaterThan(1);
      const projector = projectorOf({
        eventStore: events,
        readStore: read,
        projections: [ledger({ readFirst })],
        batchSize: 100,
      });
      await projector.start();
      await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
      const [bad] = await projector.status();
      expect(bad).toMatchObject({
        position: poison - 1,
        state: 'failed',
        lastError: { position: poison, type: 'Added', code: 'STORE_ERROR' },
      });
      expect(bad.lastError?.message).toContain('violates check constraint');
      expect(await appliedCounts(read)).toEqual({ n: poison - 1, total: poison - 1, max: 1 });
      expect(await balance(read, 'b')).toBe(poison - 1);
      await projector.skip('ledger');
      await projector.waitForPosition(head, { projections: ['ledger'] });
      expect(await appliedCounts(read)).toEqual({ n: 39, total: 39, max: 1 });
      expect(await read.skipped('ledger')).toEqual([
        expect.objectContaining({ position: poison, type: 'Added', code: 'STORE_ERROR' }),
      ]);
    });
  }

  it('sends a write-only batch as one round trip, and a batch with a read as two', async () => {
    const fresh = schema();
    const pool = new pg.Pool({ connectionString: fresh.connectionString, max: 1 });
    let queries = 0;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        queries++;
        return query(...args);
      };
    });
    try {
      const read = createPostgresReadStore({ pool, schema: fresh.schema });
      stores.push(read);
      const def = ledger();
      const generation = await read.beginGeneration('ledger', 1, def.setup);
      await read.swapGeneration('ledger', generation, 0);
      const events = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({
          position: from + i,
          data: { account: `a${i % 7}`, amount: 2 },
        })) as RecordedEvent[];
      const batch = (list: RecordedEvent[]) => async (tx: PostgresReadTx) => {
        for (const e of list) await def.handlers.Added(e, tx);
      };
      await read.apply('ledger', generation, batch(events(1, 5)), 5, 0);
      queries = 0;
      await read.apply('ledger', generation, batch(events(6, 200)), 205, 5);
      expect(queries).toBe(1);
      queries = 0;
      await read.apply(
        'ledger',
        generation,
        async (tx) => {
          await batch(events(206, 50))(tx);
          await tx.get(`SELECT count(*) AS n FROM ${tx.table('applied')}`);
          await batch(events(256, 50))(tx);
        },
        305,
        205,
      );
      expect(queries).toBe(2);
      queries = 0;
      await read.apply('ledger', generation, undefined, 310, 305);
      expect(queries).toBe(1);
      expect(await appliedCounts(read)).toEqual({ n: 305, total: 305, max: 1 });
      expect(await read.load('ledger')).toMatchObject({ position: 310 });
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await pool.end();
    }
  });

  it('runs statements in the order the handlers issued them, a read not awaited included', async () => {
    const fresh = schema();
    const read = storeIn(fresh);
    const generation = await read.beginGeneration('ledger', 1, ledger().setup);
    await read.swapGeneration('ledger', generation, 0);
    let seen: unknown;
    await read.apply(
      'ledger',
      generation,
      async (tx) => {
        const insert = (position: number) =>
          tx.run(`INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)`, [position]);
        insert(1);
        const count = tx.get(`SELECT count(*) AS n FROM ${tx.table('applied')}`);
        insert(2);
        seen = await count;
      },
      2,
      0,
    );
    expect(seen).toEqual({ n: 1 });
    expect(await appliedCounts(read)).toEqual({ n: 2, total: 2, max: 1 });
  });

  it('prepares again what a shared session lost (DISCARD ALL) or what a changed table no longer fits', async () => {
    const fresh = schema();
    const pool = new pg.Pool({ connectionString: fresh.connectionString, max: 1 });
    try {
      const read = createPostgresReadStore({ pool, schema: fresh.schema });
      stores.push(read);
      const generation = await read.beginGeneration('ledger', 1, ledger().setup);
      await read.swapGeneration('ledger', generation, 0);
      const insert = (position: number) => (tx: PostgresReadTx) =>
        tx.run(`INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)`, [position]);
      const reader = read.reader('ledger');
      const all = () => reader.all(`SELECT * FROM ${reader.table('applied')} ORDER BY position`);
      await read.apply('ledger', generation, insert(1), 1, 0);
      expect(await all()).toEqual([{ position: 1, applied: 1 }]);
      // Another user of the pool drops every prepared statement of the (only) session.
      await pool.query('DISCARD ALL');
      await read.apply('ledger', generation, insert(2), 2, 1);
      expect(await all()).toHaveLength(2);
      await pool.query('DISCARD ALL');
      expect(await all()).toHaveLength(2);
      await read.apply('ledger', generation, insert(3), 3, 2);
      // A handler changes the table's shape: the prepared SELECT * must be planned again.
      await read.apply('ledger', generation, (tx) => tx.run(`ALTER TABLE ${tx.table('applied')} ADD COLUMN note text`), 4, 3);
      expect(await all()).toEqual([1, 2, 3].map((position) => ({ position, applied: 1, note: null })));
      expect(await read.load('ledger')).toMatchObject({ position: 4 });
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await pool.end();
    }
  });

  it('two projectors on two stores (separate pools) over one schema apply each event once', async () => {
    const fresh = schema();
    const events = createInMemoryEventStore();
    const head = await seed(events, 600);
    const projections = () => [ledger(), ledger({ name: 'second' })];
    const one = projectorOf({ eventStore: events, readStore: storeIn(fresh), projections: projections(), batchSize: 25 });
    const two = projectorOf({ eventStore: events, readStore: storeIn(fresh), projections: projections(), batchSize: 25 });
    await Promise.all([one.start(), two.start()]);
    await Promise.all([one.waitForPosition(head, { timeoutMs: 20_000 }), two.waitForPosition(head, { timeoutMs: 20_000 })]);
    for (const name of ['ledger', 'second']) {
      expect(await appliedCounts(stores[0], name)).toEqual({ n: 600, total: 600, max: 1 });
    }
  });

  it('rebuilds while the old generation serves, swaps, and drops the old tables', async () => {
    const fresh = schema();
    const events = createInMemoryEventStore();
    const read = storeIn(fresh);
    const head = await seed(events, 60, () => ({ account: 'a', amount: 1 }));
    let gate: Promise<void> | undefined;
    const projector = projectorOf({
      eventStore: events,
      readStore: read,
      projections: [ledger({ delay: () => gate ?? Promise.resolve() })],
      batchSize: 10,
    });
    await projector.start();
    await projector.waitForPosition(head);
    let open!: () => void;
    gate = new Promise((r) => {
      open = r;
    });
    const rebuilt = projector.rebuild('ledger');
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('rebuilding'));
    expect(await balance(read, 'a')).toBe(60);
    expect(await physicalTables(fresh)).toEqual([
      'ledger__applied__g1',
      'ledger__applied__g2',
      'ledger__balances__g1',
      'ledger__balances__g2',
    ]);
    gate = undefined;
    open();
    await rebuilt;
    expect(await physicalTables(fresh)).toEqual(['ledger__applied__g2', 'ledger__balances__g2']);
    expect(read.reader('ledger').table('balances')).toBe(`"${fresh.schema}"."ledger__balances__g2"`);
    expect(await balance(read, 'a')).toBe(60);
  });

  it('serves the generation another process swapped in to a reader whose generation was cached, naming it next', async () => {
    const fresh = schema();
    const [one, two] = [storeIn(fresh), storeIn(fresh)];
    const def = ledger();
    const insert = (position: number) => (tx: PostgresReadTx) =>
      tx.run(`INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)`, [position]);
    const reader = one.reader('ledger');
    // Before any generation: the name is a placeholder and the read says there are no tables.
    expect(reader.table('applied')).toBe(`"${fresh.schema}"."ledger__applied__g0"`);
    await expect(reader.all(`SELECT * FROM ${reader.table('applied')}`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const g1 = await two.beginGeneration('ledger', 1, def.setup);
    await two.apply('ledger', g1, insert(1), 1, 0);
    await two.swapGeneration('ledger', g1, 0);
    // A name handed out before the generation was known resolves when read.
    const early = `SELECT count(*) AS n FROM ${reader.table('applied')}`;
    expect(await reader.get(early)).toEqual({ n: 1 });
    expect(reader.table('applied')).toBe(`"${fresh.schema}"."ledger__applied__g${g1}"`);

    const cached = `SELECT count(*) AS n FROM ${reader.table('applied')}`;
    const g2 = await two.beginGeneration('ledger', 1, def.setup);
    await two.apply(
      'ledger',
      g2,
      async (tx) => {
        await insert(1)(tx);
        await insert(2)(tx);
      },
      2,
      0,
    );
    await two.swapGeneration('ledger', g2, g1);
    // The SQL names g1, whose tables the swap dropped: it is read from g2 instead, never from stale rows.
    expect(await reader.get(cached)).toEqual({ n: 2 });
    expect(reader.table('applied')).toBe(`"${fresh.schema}"."ledger__applied__g${g2}"`);
    // This store's own swap is known at once.
    const g3 = await one.beginGeneration('ledger', 1, def.setup);
    await one.apply('ledger', g3, undefined, 2, 0);
    await one.swapGeneration('ledger', g3, g2);
    expect(reader.table('applied')).toBe(`"${fresh.schema}"."ledger__applied__g${g3}"`);
    expect(await reader.get(`SELECT count(*) AS n FROM ${reader.table('applied')}`)).toEqual({ n: 0 });
  });

  it('keeps readers read-only, checks names, and refuses names past 63 bytes', async () => {
    const fresh = schema();
    const read = storeIn(fresh);
    const generation = await read.beginGeneration('ledger', 1, ledger().setup);
    await read.swapGeneration('ledger', generation, 0);
    const reader = read.reader('ledger');
    await expect(reader.all(`DELETE FROM ${reader.table('balances')}`)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      reader.all(`WITH gone AS (DELETE FROM ${reader.table('balances')} RETURNING *) SELECT * FROM gone`),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => reader.table('x"; DROP TABLE y; --')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => reader.table('a__b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => reader.table('t'.repeat(60))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(read.beginGeneration('bad name', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(reader.all('SELECT * FROM nowhere')).rejects.toMatchObject({
      code: 'STORE_ERROR',
      details: { sqlState: '42P01' },
    });
    await expect(reader.all('SELECT ?', [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('round-trips values: int8 as numbers while safe, strings past 2^53, numeric as text, quotes and backslashes intact', async () => {
    const fresh = schema();
    const read = storeIn(fresh);
    const generation = await read.beginGeneration('values', 1, async (tx) => {
      await tx.run(
        `CREATE TABLE ${tx.table('v')} (k integer PRIMARY KEY, big bigint, num numeric, txt text, flag boolean, doc jsonb, d double precision)`,
      );
    });
    await read.swapGeneration('values', generation, 0);
    const text = `it's a \\ back'slash \\' "quoted" ? $$ -- not a comment /* nor this */ \u00e9\u{1f600}`;
    await read.apply(
      'values',
      generation,
      async (tx) => {
        await tx.run(`INSERT INTO ${tx.table('v')} VALUES (?, ?, ?, ?, ?, ?, ?)`, [
          1,
          2n ** 60n,
          '12345678901234567890.5',
          text,
          true,
          '{"a":[1,2]}',
          -1.5,
        ]);
        await tx.run(`INSERT INTO ${tx.table('v')} VALUES (?, ?, ?, ?, ?, ?, ?)`, [
          2,
          Number.MAX_SAFE_INTEGER,
          0.25,
          null,
          false,
          null,
          null,
        ]);
        await tx.run(`UPDATE ${tx.table('v')} SET d = d - ? WHERE k = ?`, [-2, 1]);
      },
      1,
      0,
    );
    const reader = read.reader('values');
    expect(await reader.all(`SELECT * FROM ${reader.table('v')} ORDER BY k`)).toEqual([
      { k: 1, big: String(2n ** 60n), num: '12345678901234567890.5', txt: text, flag: true, doc: { a: [1, 2] }, d: 0.5 },
      { k: 2, big: Number.MAX_SAFE_INTEGER, num: '0.25', txt: null, flag: false, doc: null, d: null },
    ]);
    expect(await reader.get(`SELECT k FROM ${reader.table('v')} WHERE txt = ?`, [text])).toEqual({ k: 1 });
    await expect(
      read.apply('values', generation, (tx) => tx.run(`INSERT INTO ${tx.table('v')} (k, txt) VALUES (?, ?)`, [3, 'nul\0']), 2, 1),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { sqlState: '22021' } });
    expect(await read.load('values')).toMatchObject({ position: 1 });
  });

  it('creates its tables once when two stores start on a fresh schema at the same moment', async () => {
    const fresh = schema();
    const [one, two] = [storeIn(fresh), storeIn(fresh)];
    await Promise.all([one.list(), two.list(), one.load('x'), two.leases.list()]);
    const { rows } = await admin.query(`SELECT component, version FROM "${fresh.schema}".chronicle_migrations ORDER BY version`);
    expect(rows).toEqual([
      { component: 'read', version: 1 },
      { component: 'read', version: 2 },
    ]);
  });

  it('uses a pool it is given without ending it, and refuses work once closed', async () => {
    const fresh = schema();
    const pool = new pg.Pool({ connectionString: fresh.connectionString, max: 2 });
    try {
      const read = createPostgresReadStore({ pool, schema: fresh.schema });
      await read.list();
      await read.close();
      await expect(read.load('ledger')).rejects.toMatchObject({ code: 'CLOSED' });
      expect(() => read.reader('ledger').table('x')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
    expect(() => createPostgresReadStore({ connectionString: PG_URL, schema: 'Bad-Name' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    await expect(
      createPostgresReadStore({ connectionString: 'postgres://nobody@127.0.0.1:1/x', schema: 'x' }).list(),
    ).rejects.toMatchObject({
      code: 'STORE_ERROR',
    });
  });
});
