import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createProjector, defineProjection, type EventStore, type Projector, type RecordedEvent } from 'chronicle-es';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSqliteEventStore } from './sqlite-event-store.js';
import { createSqliteReadStore, type SqliteReadStore, type SqliteReadTx } from './sqlite-read-store.js';

let dir: string;
let fileNo = 0;
const file = (name: string) => join(dir, `${name}-${++fileNo}.db`);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-read-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open: Array<{ close(): Promise<void> }> = [];
const projectors: Projector[] = [];
function readStoreAt(path: string) {
  const store = createSqliteReadStore({ path });
  open.push(store);
  return store;
}
function eventStoreAt(path: string) {
  const store = createSqliteEventStore({ path });
  open.push(store);
  return store;
}
function projectorOf(...args: Parameters<typeof createProjector<SqliteReadTx>>) {
  const p = createProjector(...args);
  projectors.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
  await Promise.all(open.splice(0).map((s) => s.close()));
});

type Added = { account: string; amount: number; poison?: boolean };

// Counts applications per event and sums per account, so a repeat or a gap shows.
function ledger(
  options: { name?: string; version?: number; fail?: (e: RecordedEvent) => boolean; delay?: () => Promise<void> } = {},
) {
  const factor = options.version ?? 1;
  const apply = (event: RecordedEvent, tx: SqliteReadTx) => {
    if (options.fail?.(event)) throw new Error(`cannot apply ${event.position}`);
    const { account, amount } = event.data as Added;
    tx.run(
      `INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1) ON CONFLICT (position) DO UPDATE SET applied = applied + 1`,
      [event.position],
    );
    tx.run(
      `INSERT INTO ${tx.table('balances')} (account, balance) VALUES (@account, @amount)
       ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance`,
      { account, amount: amount * factor },
    );
  };
  return defineProjection<SqliteReadTx>({
    name: options.name ?? 'ledger',
    version: factor,
    setup: (tx) => {
      tx.run(`CREATE TABLE ${tx.table('applied')} (position INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`);
      tx.run(`CREATE TABLE ${tx.table('balances')} (account TEXT PRIMARY KEY, balance INTEGER NOT NULL)`);
      tx.run(`CREATE INDEX ${tx.table('balances_by_balance')} ON ${tx.table('balances')} (balance)`);
    },
    handlers: {
      Added: options.delay
        ? async (event, tx) => {
            await options.delay!();
            apply(event, tx);
          }
        : apply,
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

const appliedCounts = (read: SqliteReadStore, name = 'ledger') => {
  const reader = read.reader(name);
  return reader.get<{ n: number; total: number; max: number }>(
    `SELECT count(*) AS n, sum(applied) AS total, max(applied) AS max FROM ${reader.table('applied')}`,
  )!;
};
const balance = (read: SqliteReadStore, account: string, name = 'ledger') => {
  const reader = read.reader(name);
  return reader.get<{ balance: number }>(`SELECT balance FROM ${reader.table('balances')} WHERE account = ?`, [account])?.balance;
};
const physicalTables = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ledger%' ORDER BY name")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
};

describe('SQLite read store', () => {
  it('projects from a SQLite event store and reads the active generation', async () => {
    const events = eventStoreAt(file('events'));
    const read = readStoreAt(file('read'));
    const head = await seed(events, 300);
    const projector = projectorOf({ eventStore: events, readStore: read, projections: [ledger()], batchSize: 64 });
    await projector.start();
    await projector.waitForPosition(head);
    expect(appliedCounts(read)).toEqual({ n: 300, total: 300, max: 1 });
    expect(balance(read, 'a0')).toBe(100);
    expect(read.reader('ledger').table('balances')).toBe('"ledger__balances__g1"');
    const [status] = await projector.status();
    expect(status).toMatchObject({ position: head, lagEvents: 0, state: 'live' });
  });

  it('applies every event exactly once across stop, reopen and start', async () => {
    const events = eventStoreAt(file('events'));
    const readPath = file('read');
    await seed(events, 400);
    const slow = () => new Promise<void>((r) => setImmediate(r));
    const read1 = createSqliteReadStore({ path: readPath });
    const first = createProjector({ eventStore: events, readStore: read1, projections: [ledger({ delay: slow })], batchSize: 9 });
    await first.start();
    await first.waitForPosition(100);
    await first.stop();
    await read1.close();
    await seed(events, 100);

    const read2 = readStoreAt(readPath);
    const stoppedAt = (await read2.load('ledger'))!.position;
    expect(stoppedAt).toBeGreaterThanOrEqual(100);
    expect(stoppedAt).toBeLessThan(400);
    const second = projectorOf({ eventStore: events, readStore: read2, projections: [ledger()], batchSize: 9 });
    await second.start();
    await second.waitForPosition(500);
    expect(appliedCounts(read2)).toEqual({ n: 500, total: 500, max: 1 });
  });

  it('commits a batch and its checkpoint together: a throw mid-batch leaves neither', async () => {
    const read = readStoreAt(file('read'));
    const generation = await read.beginGeneration('ledger', 1, ledger().setup);
    await read.swapGeneration('ledger', generation);
    const insert = (tx: SqliteReadTx, position: number) =>
      tx.run(`INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)`, [position]);
    await read.apply(
      'ledger',
      generation,
      (tx) => {
        insert(tx, 1);
      },
      1,
      0,
    );

    const boom = new Error('boom');
    await expect(
      read.apply(
        'ledger',
        generation,
        (tx) => {
          insert(tx, 2);
          insert(tx, 3);
          throw boom;
        },
        3,
        1,
      ),
    ).rejects.toBe(boom);
    await expect(
      read.apply(
        'ledger',
        generation,
        async (tx) => {
          insert(tx, 2);
          await new Promise((r) => setTimeout(r, 5));
          insert(tx, 2); // primary key violation, reported with its SQL
        },
        3,
        1,
      ),
    ).rejects.toMatchObject({
      code: 'STORE_ERROR',
      details: { sql: expect.stringContaining('INSERT INTO "ledger__applied__g1"') },
    });
    expect(appliedCounts(read)).toEqual({ n: 1, total: 1, max: 1 });
    expect((await read.load('ledger'))!.position).toBe(1);
    await expect(read.apply('ledger', generation + 1, undefined, 5, undefined)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
    });
  });

  it('sets a checkpoint only where the batch starts, so a second projector on the file cannot apply it again', async () => {
    const path = file('read');
    const [one, two] = [readStoreAt(path), readStoreAt(path)];
    const g1 = await one.beginGeneration('ledger', 1, ledger().setup);
    await two.swapGeneration('ledger', g1, 0);
    const insert = (position: number) => (tx: SqliteReadTx) => {
      tx.run(`INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)`, [position]);
    };
    await one.apply('ledger', g1, insert(1), 1, 0);
    await expect(two.apply('ledger', g1, insert(1), 1, 0)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      details: { expected: 0, actual: 1 },
    });
    await expect(two.apply('ledger', g1, undefined, 0, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await two.apply('ledger', g1, insert(2), 2, 1);
    expect(appliedCounts(one)).toEqual({ n: 2, total: 2, max: 1 });

    const failure = { message: 'boom', eventId: 'e', type: 'Added', at: new Date().toISOString() };
    await expect(one.skip('ledger', g1, { ...failure, position: 2 })).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await one.skip('ledger', g1, { ...failure, position: 3 });

    const g2 = await one.beginGeneration('ledger', 1, ledger().setup);
    await one.apply('ledger', g2, insert(1), 2, 0);
    // The active generation is at 3: swapping the rebuild in at 2 would move served data back.
    await expect(two.swapGeneration('ledger', g2, g1)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      details: { active: 3, rebuild: 2 },
    });
    await one.apply('ledger', g2, undefined, 3, 2);
    await expect(two.apply('ledger', g2, insert(1), 3, 0)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await expect(two.swapGeneration('ledger', g2, 0)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await two.swapGeneration('ledger', g2, g1);
    expect(await one.load('ledger')).toEqual({ name: 'ledger', version: 1, generation: g2, position: 3 });
    expect(appliedCounts(two)).toEqual({ n: 1, total: 1, max: 1 });
  });

  it('serves the generation another connection swapped in to a reader whose generation was cached', async () => {
    const path = file('read');
    const [one, two] = [readStoreAt(path), readStoreAt(path)];
    const insert = (position: number) => (tx: SqliteReadTx) => {
      tx.run(`INSERT INTO ${tx.table('applied')} (position, applied) VALUES (?, 1)`, [position]);
    };
    const g1 = await one.beginGeneration('ledger', 1, ledger().setup);
    await one.apply('ledger', g1, insert(1), 1, 0);
    await one.swapGeneration('ledger', g1, 0);
    const reader = one.reader('ledger');
    const served = () => reader.get<{ n: number }>(`SELECT count(*) AS n FROM ${reader.table('applied')}`)?.n;
    expect(reader.table('applied')).toBe(`"ledger__applied__g${g1}"`);
    expect(served()).toBe(1);

    // The other store (another process's projector, in production) rebuilds and swaps; the old tables are dropped.
    const g2 = await two.beginGeneration('ledger', 1, ledger().setup);
    await two.apply(
      'ledger',
      g2,
      (tx) => {
        insert(1)(tx);
        insert(2)(tx);
      },
      2,
      0,
    );
    await two.swapGeneration('ledger', g2, g1);
    expect(reader.table('applied')).toBe(`"ledger__applied__g${g2}"`);
    expect(served()).toBe(2);
    // And this store's own swap, back the other way.
    const g3 = await one.beginGeneration('ledger', 1, ledger().setup);
    await one.apply('ledger', g3, undefined, 2, 0);
    await one.swapGeneration('ledger', g3, g2);
    expect(reader.table('applied')).toBe(`"ledger__applied__g${g3}"`);
    expect(served()).toBe(0);
    expect(two.reader('ledger').table('applied')).toBe(`"ledger__applied__g${g3}"`);
  });

  it('runs async handlers of several projections without interleaving their transactions', async () => {
    const events = eventStoreAt(file('events'));
    const read = readStoreAt(file('read'));
    const head = await seed(events, 200);
    const tick = () => new Promise<void>((r) => setTimeout(r, 0));
    const projections = ['one', 'two', 'three'].map((name) => ledger({ name, delay: tick }));
    const projector = projectorOf({ eventStore: events, readStore: read, projections, batchSize: 16 });
    await projector.start();
    await projector.waitForPosition(head, { timeoutMs: 20_000 });
    for (const name of ['one', 'two', 'three']) expect(appliedCounts(read, name)).toEqual({ n: 200, total: 200, max: 1 });
  });

  it('stops only the failing projection, keeps the events before the culprit; retry and skip resume it', async () => {
    const events = eventStoreAt(file('events'));
    const read = readStoreAt(file('read'));
    const head = await seed(events, 40, (i) => ({ account: 'a', amount: 1, poison: i === 25 }));
    const poison = (await events.readAll()).find((e) => (e.data as Added).poison)!.position;
    let broken = true;
    const bad = ledger({ name: 'bad', fail: (e) => broken && (e.data as Added).poison === true });
    const good = ledger({ name: 'good' });
    const projector = projectorOf({ eventStore: events, readStore: read, projections: [bad, good], batchSize: 100 });
    await projector.start();
    await projector.waitForPosition(head, { projections: ['good'] });
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    const [badStatus, goodStatus] = await projector.status();
    expect(badStatus).toMatchObject({
      position: poison - 1,
      state: 'failed',
      lastError: { position: poison, type: 'Added', message: `cannot apply ${poison}` },
    });
    expect(goodStatus).toMatchObject({ position: head, state: 'live' });
    expect(appliedCounts(read, 'bad')).toEqual({ n: poison - 1, total: poison - 1, max: 1 });
    expect((await read.load('bad'))!.failure).toMatchObject({ position: poison });

    // Still broken: retry fails on the same event again; skipping moves past it.
    await projector.retry('bad');
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    await projector.skip('bad');
    await projector.waitForPosition(head);
    expect(appliedCounts(read, 'bad')).toEqual({ n: 39, total: 39, max: 1 });
    expect(await read.skipped('bad')).toEqual([
      expect.objectContaining({ position: poison, type: 'Added', message: `cannot apply ${poison}` }),
    ]);
    expect((await read.load('bad'))!.failure).toBeUndefined();
    broken = false;
  });

  it('rebuilds while the old generation serves, swaps, and drops the old tables', async () => {
    const events = eventStoreAt(file('events'));
    const readPath = file('read');
    const read = readStoreAt(readPath);
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
    expect(balance(read, 'a')).toBe(60);
    expect(physicalTables(readPath)).toEqual([
      'ledger__applied__g1',
      'ledger__applied__g2',
      'ledger__balances__g1',
      'ledger__balances__g2',
    ]);
    gate = undefined;
    open();
    await rebuilt;
    expect(physicalTables(readPath)).toEqual(['ledger__applied__g2', 'ledger__balances__g2']);
    expect(read.reader('ledger').table('balances')).toBe('"ledger__balances__g2"');
    expect(balance(read, 'a')).toBe(60);
    expect(appliedCounts(read)).toEqual({ n: 60, total: 60, max: 1 });
  });

  it('keeps the served generation live during a rebuild: a later event is served and waited for before the swap', async () => {
    const events = eventStoreAt(file('events'));
    const read = readStoreAt(file('read'));
    await seed(events, 200, () => ({ account: 'a', amount: 1 }));
    let slow = false;
    const projector = projectorOf({
      eventStore: events,
      readStore: read,
      projections: [ledger({ delay: () => (slow ? new Promise((r) => setTimeout(r, 5)) : Promise.resolve()) })],
      batchSize: 20,
    });
    await projector.start();
    await projector.waitForPosition(200);
    slow = true;
    let swapped = false;
    const rebuilt = projector.rebuild('ledger').then(() => {
      swapped = true;
    });
    rebuilt.catch(() => {});
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('rebuilding'));
    const head = await seed(events, 1, () => ({ account: 'b', amount: 5 }));
    await projector.waitForPosition(head, { timeoutMs: 800 });
    expect(swapped).toBe(false);
    const during = (await read.load('ledger'))!;
    expect(during).toMatchObject({ generation: 1, position: head });
    expect(during.rebuild!.position).toBeLessThan(head);
    expect(balance(read, 'b')).toBe(5);
    expect(appliedCounts(read)).toEqual({ n: 201, total: 201, max: 1 });

    await rebuilt;
    expect((await read.load('ledger'))!).toMatchObject({ generation: 2, position: head });
    expect(read.reader('ledger').table('balances')).toBe('"ledger__balances__g2"');
    expect(balance(read, 'a')).toBe(200);
    expect(balance(read, 'b')).toBe(5);
    expect(appliedCounts(read)).toEqual({ n: 201, total: 201, max: 1 });
  });

  it('rebuilds on start when the defined version is raised', async () => {
    const events = eventStoreAt(file('events'));
    const readPath = file('read');
    const head = await seed(events, 30, () => ({ account: 'a', amount: 1 }));
    const read1 = createSqliteReadStore({ path: readPath });
    const v1 = createProjector({ eventStore: events, readStore: read1, projections: [ledger()] });
    await v1.start();
    await v1.waitForPosition(head);
    await v1.stop();
    await read1.close();

    const read2 = readStoreAt(readPath);
    const v2 = projectorOf({ eventStore: events, readStore: read2, projections: [ledger({ version: 2 })] });
    await v2.start();
    await vi.waitFor(async () => expect((await v2.status())[0]).toMatchObject({ version: 2, state: 'live' }));
    expect(balance(read2, 'a')).toBe(60);
    expect(await read2.load('ledger')).toEqual({ name: 'ledger', version: 2, generation: 2, position: head });
    expect(physicalTables(readPath)).toEqual(['ledger__applied__g2', 'ledger__balances__g2']);
  });

  it('times out waitForPosition with TIMEOUT, answers CLOSED once stopped, and reports lag', async () => {
    const events = eventStoreAt(file('events'));
    const read = readStoreAt(file('read'));
    const projector = projectorOf({ eventStore: events, readStore: read, projections: [ledger()] });
    await projector.start();
    await seed(events, 3);
    await projector.waitForPosition(3);
    // A position nobody has written yet: the wait runs out.
    await expect(projector.waitForPosition(100, { timeoutMs: 30 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await projector.stop();
    await seed(events, 4);
    // A stopped projector cannot get there, and says so at once.
    await expect(projector.waitForPosition(7, { timeoutMs: 30 })).rejects.toMatchObject({ code: 'CLOSED' });
    // Lag is measured in milliseconds of event age: let the unapplied events get older than "now".
    await new Promise((resolve) => setTimeout(resolve, 10));
    const [status] = await projector.status();
    expect(status).toMatchObject({ position: 3, lagEvents: 4, state: 'stopped' });
    expect(status.lagSeconds).toBeGreaterThan(0);
  });

  it('keeps readers read-only and checks names', async () => {
    const read = readStoreAt(file('read'));
    expect(() => read.reader('ledger').table('balances')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    const generation = await read.beginGeneration('ledger', 1, ledger().setup);
    await read.swapGeneration('ledger', generation);
    const reader = read.reader('ledger');
    expect(() => reader.all(`DELETE FROM ${reader.table('balances')}`)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => reader.table('x"; DROP TABLE y; --')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => reader.table('a__b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(read.beginGeneration('bad name', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses work after close', async () => {
    const read = createSqliteReadStore({ path: file('read') });
    await read.close();
    await expect(read.load('ledger')).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(read.apply('ledger', 1, undefined, 1, 0)).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
