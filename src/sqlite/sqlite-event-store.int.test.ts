import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type AppendResult, isChronicleError, type RecordedEvent } from 'chronicle-es';
import { describeEventStoreConformance } from 'chronicle-es/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSqliteEventStore, type SqliteEventStore } from './index.js';

let dir: string;
let fileCount = 0;
const open: SqliteEventStore[] = [];

const freshPath = () => join(dir, `store-${++fileCount}.db`);
function storeAt(path: string, options: { busyTimeoutMs?: number; synchronous?: 'full' | 'normal' } = {}): SqliteEventStore {
  const store = createSqliteEventStore({ path, ...options });
  open.push(store);
  return store;
}
const event = (n: number) => ({ type: 'Counted', data: { n } });

// Settles every promise and reports each as a value or an error code, so a test can assert a whole group at once.
async function outcomes<T>(promises: Promise<T>[]): Promise<Array<{ value: T } | { code: string }>> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) => {
    if (s.status === 'fulfilled') return { value: s.value };
    if (!isChronicleError(s.reason)) throw new Error(`untyped error: ${String(s.reason)}`);
    return { code: s.reason.code };
  });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a ChronicleError ${code}`).toBeDefined();
  expect(isChronicleError(err), `expected a ChronicleError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

function expectContiguous(events: RecordedEvent[]): void {
  expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chronicle-sqlite-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describeEventStoreConformance(
  'sqlite',
  {
    create: () => createSqliteEventStore({ path: freshPath() }),
    // A second connection on the same file, as another process would open it: conditions must hold across the two.
    createPeer: (first) => createSqliteEventStore({ path: (first as SqliteEventStore).path }),
  },
  { describe, it, beforeAll, afterAll },
);

describe('sqlite event store: group commit', () => {
  it('lets exactly one of 64 concurrent appends at the same expected version win, in one transaction', async () => {
    const store = storeAt(freshPath());
    await store.append('race-1', [event(0)], { expectedVersion: 'no_stream' });
    const before = store.stats().groups;
    const results = await outcomes(
      Array.from({ length: 64 }, (_, i) => store.append('race-1', [event(i + 1)], { expectedVersion: 1 })),
    );
    expect(store.stats().groups - before).toBe(1);
    const winners = results.filter((r) => 'value' in r);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => 'code' in r && r.code === 'CONCURRENCY_CONFLICT')).toHaveLength(63);
    expect(winners[0]).toEqual({ value: { streamId: 'race-1', version: 2, position: 2, duplicate: false } });
    const events = await store.readStream('race-1');
    expect(events.map((e) => e.version)).toEqual([1, 2]);
    expect(await store.headPosition()).toBe(2);
  });

  it('fails only the append that fails; its neighbours in the same group commit with contiguous positions', async () => {
    const store = storeAt(freshPath());
    await store.append('gone-1', [event(0)]);
    await store.deleteStream('gone-1');
    await store.append('taken-1', [{ id: 'fixed-id', type: 'Counted', data: {} }]);
    const before = store.stats().groups;
    const results = await outcomes<AppendResult | AppendResult[]>([
      store.append('a-1', [event(1), event(2)], { expectedVersion: 'no_stream' }),
      store.append('b-1', [event(1)], { expectedVersion: 5 }),
      store.append('c-1', [event(1)]),
      store.appendMany([
        { streamId: 'd-1', events: [event(1)] },
        { streamId: 'gone-1', events: [event(1)] },
      ]),
      store.append('e-1', [event(1), { id: 'fixed-id', type: 'Counted', data: {} }]),
      store.append('f-1', [event(1)], { expectedVersion: 'exists' }),
      store.append('a-1', [event(3)], { expectedVersion: 2 }),
    ]);
    expect(store.stats().groups - before).toBe(1);
    expect(results).toEqual([
      { value: { streamId: 'a-1', version: 2, position: 4, duplicate: false } },
      { code: 'CONCURRENCY_CONFLICT' },
      { value: { streamId: 'c-1', version: 1, position: 5, duplicate: false } },
      { code: 'STREAM_DELETED' },
      { code: 'INVALID_ARGUMENT' },
      { code: 'CONCURRENCY_CONFLICT' },
      { value: { streamId: 'a-1', version: 3, position: 6, duplicate: false } },
    ]);
    const all = await store.readAll();
    expectContiguous(all);
    expect(all.map((e) => e.streamId)).toEqual(['gone-1', 'taken-1', 'a-1', 'a-1', 'c-1', 'a-1']);
    expect((await store.streamInfo('d-1')).version).toBe(0);
    expect((await store.streamInfo('e-1')).version).toBe(0);
  });

  it('inserts long appends in chunks and still names a taken id inside a chunk or the rest, writing nothing', async () => {
    const store = storeAt(freshPath());
    const batch = (n: number) => Array.from({ length: n }, (_, i) => event(i));
    await store.append('long-1', batch(25));
    const taken = (await store.readStream('long-1'))[7].id;
    for (const at of [3, 13, 22]) {
      const events: Array<ReturnType<typeof event> & { id?: string }> = batch(25);
      events[at] = { ...events[at], id: taken };
      const err = await store.append('long-2', events).catch((e: unknown) => e);
      expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect((err as { details: { eventId: string } }).details.eventId).toBe(taken);
    }
    const repeated = batch(12).map((e, i) => ({ ...e, id: i === 4 || i === 9 ? 'twice' : `own-${i}` }));
    await expectCode(store.append('long-2', repeated), 'INVALID_ARGUMENT');
    expect(await store.readStream('long-2')).toEqual([]);
    await store.append('long-2', batch(31));
    const all = await store.readAll();
    expectContiguous(all);
    expect(all.map((e) => [e.streamId, e.version, (e.data as { n: number }).n])).toEqual([
      ...batch(25).map((_, i) => ['long-1', i + 1, i]),
      ...batch(31).map((_, i) => ['long-2', i + 1, i]),
    ]);
  });

  it('returns the stored result for a repeated idempotency key in the same group and writes once', async () => {
    const store = storeAt(freshPath());
    const [first, second, many] = await Promise.all([
      store.append('idem-1', [event(1)], { idempotencyKey: 'k-1' }),
      store.append('idem-1', [event(2)], { idempotencyKey: 'k-1' }),
      store.appendMany([{ streamId: 'idem-2', events: [event(1)] }], { idempotencyKey: 'k-1' }),
    ]);
    expect(first).toEqual({ streamId: 'idem-1', version: 1, position: 1, duplicate: false });
    expect(second).toEqual({ ...first, duplicate: true });
    expect(many).toEqual([{ ...first, duplicate: true }]);
    expect(await store.headPosition()).toBe(1);
    expect(await store.findIdempotentResult('k-1')).toEqual([{ ...first, duplicate: true }]);
    expect(await store.findIdempotentResult('k-unknown')).toBeUndefined();
  });

  it('does not keep the key of a failed append, so a retry with it can succeed', async () => {
    const store = storeAt(freshPath());
    await expectCode(store.append('retry-1', [event(1)], { expectedVersion: 3, idempotencyKey: 'r-1' }), 'CONCURRENCY_CONFLICT');
    expect(await store.findIdempotentResult('r-1')).toBeUndefined();
    const ok = await store.append('retry-1', [event(1)], { expectedVersion: 'no_stream', idempotencyKey: 'r-1' });
    expect(ok.duplicate).toBe(false);
  });

  it('settles queued appends on close, then rejects every call with CLOSED', async () => {
    const store = createSqliteEventStore({ path: freshPath() });
    const pending = Array.from({ length: 10 }, (_, i) => store.append('closing-1', [event(i)]));
    await store.close();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await expectCode(store.append('closing-1', [event(11)]), 'CLOSED');
    await expectCode(store.readStream('closing-1'), 'CLOSED');
    await expectCode(store.headPosition(), 'CLOSED');
    await store.close();
  });

  it('rejects every caller of a group with STORE_ERROR when its transaction cannot start, then recovers', async () => {
    const path = freshPath();
    const store = storeAt(path, { busyTimeoutMs: 20 });
    await store.append('busy-1', [event(0)]);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      const settled = await Promise.allSettled([store.append('busy-1', [event(1)]), store.append('busy-2', [event(1)])]);
      for (const s of settled) {
        expect(s.status).toBe('rejected');
        const reason = (s as PromiseRejectedResult).reason;
        expect(isChronicleError(reason, 'STORE_ERROR')).toBe(true);
        expect(reason.details.sql).toBe('BEGIN IMMEDIATE');
        expect(reason.cause).toBeDefined();
      }
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    expect(await store.append('busy-1', [event(1)], { expectedVersion: 1 })).toMatchObject({ version: 2, position: 2 });
  });

  it('reads versions from the file, not memory, so two stores on one file never lose an update', async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    await a.append('shared-1', [event(1)], { expectedVersion: 'no_stream' });
    await b.append('shared-1', [event(2)], { expectedVersion: 1 });
    await expectCode(a.append('shared-1', [event(3)], { expectedVersion: 1 }), 'CONCURRENCY_CONFLICT');
    const both = await Promise.all([a.append('shared-2', [event(1)]), b.append('shared-2', [event(1)])]);
    expect(both.map((r) => r.version).sort()).toEqual([1, 2]);
    expectContiguous(await a.readAll());
  });
});

describe('sqlite event store: durability across reopen', () => {
  it('keeps events, stream state and idempotency keys after close and reopen', async () => {
    const path = freshPath();
    const first = createSqliteEventStore({ path, synchronous: 'normal' });
    const appended = await first.append('order-1', [event(1), event(2)], { idempotencyKey: 'place-1' });
    await first.appendMany([
      { streamId: 'order-2', events: [event(1)] },
      { streamId: 'stock-1', events: [event(1)] },
    ]);
    await first.setStreamMetadata('order-2', { owner: 'ann' });
    await first.append('cart-1', [event(1)]);
    await first.deleteStream('cart-1');
    await first.close();

    const second = storeAt(path);
    expect(await second.headPosition()).toBe(5);
    const order = await second.readStream('order-1');
    expect(order.map((e) => [e.version, e.position, e.data])).toEqual([
      [1, 1, { n: 1 }],
      [2, 2, { n: 2 }],
    ]);
    expect(order[0].metadata).toMatchObject({ schemaVersion: 1 });
    expect(typeof order[0].metadata.timestamp).toBe('string');
    expect(await second.streamInfo('order-2')).toEqual({
      streamId: 'order-2',
      version: 1,
      deleted: false,
      metadata: { owner: 'ann' },
    });
    await expectCode(second.readStream('cart-1'), 'STREAM_DELETED');
    const again = await second.append('order-1', [event(9)], { idempotencyKey: 'place-1' });
    expect(again).toEqual({ ...appended, duplicate: true });
    expect(await second.headPosition()).toBe(5);
    expect(await second.append('order-1', [event(3)], { expectedVersion: 2 })).toMatchObject({ version: 3, position: 6 });
  });
});

describe('sqlite event store: durability settings', () => {
  // The store keeps its connection private. A spy on the driver's prototype hands the test the very handle the
  // store opened, so the settings are read from that connection rather than from a second one (PRAGMA synchronous
  // is per connection) and no test-only surface is added to the store.
  function openAndGrabHandle(options: { synchronous?: 'full' | 'normal' } = {}): Database.Database {
    const prepare = vi.spyOn(Database.prototype, 'prepare');
    try {
      storeAt(freshPath(), options);
      const handles = new Set(prepare.mock.contexts);
      expect(handles.size).toBe(1);
      return [...handles][0] as Database.Database;
    } finally {
      prepare.mockRestore();
    }
  }
  const SYNCHRONOUS = { 0: 'OFF', 1: 'NORMAL', 2: 'FULL', 3: 'EXTRA' } as Record<number, string>;

  it('commits with synchronous=FULL by default, so a resolved append survives power loss (README promise)', () => {
    const db = openAndGrabHandle();
    expect(SYNCHRONOUS[db.pragma('synchronous', { simple: true }) as number]).toBe('FULL');
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('uses synchronous=NORMAL only when asked to', () => {
    const db = openAndGrabHandle({ synchronous: 'normal' });
    expect(SYNCHRONOUS[db.pragma('synchronous', { simple: true }) as number]).toBe('NORMAL');
  });
});

describe('sqlite event store: schema migration', () => {
  it('upgrades a version-1 file (stream versions cached in streams) and keeps deletes and metadata', async () => {
    const path = freshPath();
    const old = new Database(path);
    old.exec(`
      CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
        version INTEGER NOT NULL, category TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
        UNIQUE (stream_id, version));
      CREATE INDEX events_category ON events (category, position);
      CREATE TABLE streams (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0, metadata TEXT NOT NULL DEFAULT '{}') WITHOUT ROWID;
      CREATE TABLE idempotency (key TEXT PRIMARY KEY, result TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO events VALUES
        (1, 'e1', 'order-1', 1, 'order', 'Placed', '{}', '{"schemaVersion":1,"timestamp":"2024-01-01T00:00:00.000Z"}'),
        (2, 'e2', 'cart-1', 1, 'cart', 'Added', '{}', '{"schemaVersion":1,"timestamp":"2024-01-01T00:00:00.000Z"}');
      INSERT INTO streams VALUES ('order-1', 1, 1, 0, '{"owner":"ann"}'), ('cart-1', 1, 2, 1, '{}');
      PRAGMA user_version = 1;`);
    old.close();

    const store = storeAt(path);
    expect(await store.streamInfo('order-1')).toEqual({
      streamId: 'order-1',
      version: 1,
      deleted: false,
      metadata: { owner: 'ann' },
    });
    expect(await store.streamInfo('cart-1')).toEqual({ streamId: 'cart-1', version: 1, deleted: true, metadata: {} });
    await expectCode(store.append('cart-1', [event(2)]), 'STREAM_DELETED');
    expect(await store.append('order-1', [event(2)], { expectedVersion: 1 })).toMatchObject({ version: 2, position: 3 });
    await store.setStreamMetadata('new-1', { a: 1 });
    expect((await store.streamInfo('new-1')).metadata).toEqual({ a: 1 });
  });

  it('refuses a file written by a newer schema with STORE_ERROR and leaves it alone', () => {
    const path = freshPath();
    const newer = new Database(path);
    newer.pragma('user_version = 99');
    newer.close();
    let error: unknown;
    try {
      createSqliteEventStore({ path });
    } catch (err) {
      error = err;
    }
    expect(isChronicleError(error, 'STORE_ERROR')).toBe(true);
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(99);
    check.close();
  });
});

describe('sqlite event store: reads, deletes and metadata', () => {
  it('reads a stream forward, backward, from a version and with a limit', async () => {
    const store = storeAt(freshPath());
    await store.append('r-1', [1, 2, 3, 4, 5].map(event));
    await store.append('other-1', [event(0)]);
    const versions = (events: RecordedEvent[]) => events.map((e) => e.version);
    expect(versions(await store.readStream('r-1'))).toEqual([1, 2, 3, 4, 5]);
    expect(versions(await store.readStream('r-1', { from: 3 }))).toEqual([3, 4, 5]);
    expect(versions(await store.readStream('r-1', { from: 2, limit: 2 }))).toEqual([2, 3]);
    expect(versions(await store.readStream('r-1', { direction: 'backward' }))).toEqual([5, 4, 3, 2, 1]);
    expect(versions(await store.readStream('r-1', { direction: 'backward', from: 3, limit: 2 }))).toEqual([3, 2]);
    expect(await store.readStream('never-1')).toEqual([]);
  });

  it('filters the global log by type and category in SQL', async () => {
    const store = storeAt(freshPath());
    await store.append('order-1', [{ type: 'OrderPlaced', data: {} }]);
    await store.append('stock-1', [{ type: 'StockReserved', data: {} }]);
    await store.append('order-2', [{ type: 'OrderShipped', data: {} }]);
    await store.append('orderless', [{ type: 'OrderPlaced', data: {} }]);
    const ids = (events: RecordedEvent[]) => events.map((e) => `${e.position}:${e.streamId}`);
    expect(ids(await store.readAll({ filter: { categories: ['order'] } }))).toEqual(['1:order-1', '3:order-2']);
    expect(ids(await store.readAll({ filter: { types: ['OrderPlaced'] } }))).toEqual(['1:order-1', '4:orderless']);
    expect(ids(await store.readAll({ filter: { types: ['OrderPlaced'], categories: ['order'] } }))).toEqual(['1:order-1']);
    expect(ids(await store.readAll({ from: 2, limit: 2 }))).toEqual(['2:stock-1', '3:order-2']);
    expect(ids(await store.readAll({ limit: 2, filter: { categories: ['stock', 'order', 'order'] } }))).toEqual([
      '1:order-1',
      '2:stock-1',
    ]);
    expect(ids(await store.readAll({ from: 2, filter: { categories: ['order', 'orderless'] } }))).toEqual([
      '3:order-2',
      '4:orderless',
    ]);
    expect(await store.readAll({ filter: { types: [] } })).toEqual([]);
  });

  it('soft-deletes: reads and appends raise STREAM_DELETED, the events stay in the global log', async () => {
    const store = storeAt(freshPath());
    await store.append('del-1', [event(1), event(2)]);
    await expectCode(store.deleteStream('del-1', { expectedVersion: 1 }), 'CONCURRENCY_CONFLICT');
    await store.deleteStream('del-1', { expectedVersion: 2 });
    await expectCode(store.readStream('del-1'), 'STREAM_DELETED');
    await expectCode(store.append('del-1', [event(3)]), 'STREAM_DELETED');
    await expectCode(store.append('del-1', []), 'STREAM_DELETED');
    expect(await store.streamInfo('del-1')).toEqual({ streamId: 'del-1', version: 2, deleted: true, metadata: {} });
    expect((await store.readAll()).map((e) => e.streamId)).toEqual(['del-1', 'del-1']);
  });

  it('answers an empty append with the stream version and its last position', async () => {
    const store = storeAt(freshPath());
    expect(await store.append('empty-1', [])).toEqual({ streamId: 'empty-1', version: 0, position: 0, duplicate: false });
    await store.append('empty-1', [event(1)]);
    await store.append('empty-2', [event(1)]);
    expect(await store.append('empty-1', [], { expectedVersion: 1 })).toEqual({
      streamId: 'empty-1',
      version: 1,
      position: 1,
      duplicate: false,
    });
  });

  it('treats stream ids as data, never SQL', async () => {
    const store = storeAt(freshPath());
    const nasty = `x'); DROP TABLE events; --"`;
    await store.append(nasty, [event(1)]);
    await store.setStreamMetadata(nasty, { 'a"b': "c'd" });
    expect((await store.readStream(nasty))[0].streamId).toBe(nasty);
    expect((await store.streamInfo(nasty)).metadata).toEqual({ 'a"b': "c'd" });
    expect((await store.readAll({ filter: { categories: [`x'); DROP TABLE events; `] } })).map((e) => e.streamId)).toEqual([
      nasty,
    ]);
  });

  it('wakes a subscriber after a commit', async () => {
    const store = storeAt(freshPath());
    await store.append('sub-1', [event(1)]);
    const seen: number[] = [];
    let wake: () => void = () => {};
    const three = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const sub = store.subscribe({ pollIntervalMs: 60_000 }, (events) => {
      for (const e of events) seen.push(e.position);
      if (seen.length >= 3) wake();
    });
    await store.append('sub-2', [event(1), event(2)]);
    await three;
    await sub.stop();
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('sqlite event store: malformed input', () => {
  it('rejects bad appends with INVALID_ARGUMENT and writes nothing', async () => {
    const store = storeAt(freshPath());
    const bad: Array<() => Promise<unknown>> = [
      () => store.append('', [event(1)]),
      () => store.append('a\u0000b', [event(1)]),
      () => store.append('x'.repeat(513), [event(1)]),
      () => store.append(42 as unknown as string, [event(1)]),
      () => store.append('ok-1', 'nope' as never),
      () => store.append('ok-1', [null as never]),
      () => store.append('ok-1', [{ type: '1 bad', data: {} }]),
      () => store.append('ok-1', [{ type: 'Fine', data: { big: 1n } }]),
      () => store.append('ok-1', [{ type: 'Fine', data: {}, metadata: 'text' as never }]),
      () => store.append('ok-1', [{ type: 'Fine', data: {}, id: '' }]),
      () => store.append('ok-1', [event(1)], { expectedVersion: -1 }),
      () => store.append('ok-1', [event(1)], { expectedVersion: 'latest' as never }),
      () => store.append('ok-1', [event(1)], { idempotencyKey: '' }),
      () => store.appendMany([]),
      () =>
        store.appendMany([
          { streamId: 'ok-1', events: [event(1)] },
          { streamId: 'ok-1', events: [event(2)] },
        ]),
      () => store.readStream('ok-1', { limit: 0 }),
      () => store.readStream('ok-1', { direction: 'sideways' as never }),
      () => store.readAll({ from: -1 }),
      () => store.readAll({ filter: { types: 'OrderPlaced' as never } }),
      () => store.setStreamMetadata('ok-1', [] as never),
      () => store.deleteStream('ok-1', { expectedVersion: 1.5 }),
      () => store.findIdempotentResult(7 as never),
    ];
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    bad.push(() => store.append('ok-1', [{ type: 'Fine', data: circular }]));
    for (const call of bad) await expectCode(call(), 'INVALID_ARGUMENT');
    expect(await store.headPosition()).toBe(0);
    expect(await store.streamInfo('ok-1')).toEqual({ streamId: 'ok-1', version: 0, deleted: false, metadata: {} });
  });

  it('rejects bad options and unopenable files with typed errors', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return isChronicleError(err) ? err.code : `untyped: ${String(err)}`;
      }
      return 'no error';
    };
    expect(codeOf(() => createSqliteEventStore({ path: '' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => createSqliteEventStore({ path: freshPath(), synchronous: 'off' as never }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => createSqliteEventStore({ path: freshPath(), busyTimeoutMs: -1 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => createSqliteEventStore({ path: join(dir, 'missing-dir', 'x.db') }))).toBe('STORE_ERROR');
  });
});
