import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isChronicleError, Query, type QueryItem, type RecordedEvent } from 'chronicle-es';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_STORE_SCHEMA_VERSION } from './event-store-schema.js';
import { createSqliteEventStore, type SqliteEventStore } from './index.js';

let dir: string;
let fileCount = 0;
const open: SqliteEventStore[] = [];

const freshPath = () => join(dir, `tags-${++fileCount}.db`);
function storeAt(path: string): SqliteEventStore {
  const store = createSqliteEventStore({ path });
  open.push(store);
  return store;
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; details?: Record<string, unknown> }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isChronicleError(err)) throw new Error(`expected a ChronicleError, got ${String(err)}`);
  return err as unknown as { code: string; details?: Record<string, unknown> };
}

const positions = (events: readonly RecordedEvent[]) => events.map((e) => e.position);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chronicle-sqlite-tags-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// A file as the previous version (schema 3, before tags) left it: its schema exactly as migrations 1-3 made it (read
// back from sqlite_master of a file that version wrote), and rows as its appends wrote them — UUIDv7 ids, data and
// metadata as JSON text, a streams row only for a deleted stream or one with metadata, the idempotency result as JSON.
function writeSchema3File(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE events (
      position INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      stream_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      category TEXT NOT NULL,
      type TEXT NOT NULL,
      data TEXT NOT NULL,
      metadata TEXT NOT NULL,
      UNIQUE (stream_id, version)
    );
    CREATE INDEX events_category ON events (category, position);
    CREATE TABLE idempotency (key TEXT PRIMARY KEY, result TEXT NOT NULL, fingerprint TEXT) WITHOUT ROWID;
    CREATE TABLE "streams" (
      stream_id TEXT PRIMARY KEY,
      deleted INTEGER NOT NULL DEFAULT 0,
      metadata TEXT NOT NULL DEFAULT '{}'
    ) WITHOUT ROWID;
    INSERT INTO events VALUES
      (1, '01a2321c-f9e3-7e06-8616-a734a5a24c44', 'order-1', 1, 'order', 'OrderPlaced', '{"a":1}',
        '{"schemaVersion":1,"timestamp":"2026-01-05T14:58:09.507Z"}'),
      (2, '01a2321c-f9e3-7a39-9b63-7ba46a5625c6', 'order-1', 2, 'order', 'OrderPaid', '{}',
        '{"schemaVersion":1,"timestamp":"2026-01-05T14:58:09.507Z"}'),
      (3, '01a2321c-f9e5-7eb1-b22d-d95238013903', 'cart-1', 1, 'cart', 'ItemAdded', '{}',
        '{"schemaVersion":1,"timestamp":"2026-01-05T14:58:09.509Z"}'),
      (4, '01a2321c-f9e6-7eb1-b22d-d95238013904', 'order-2', 1, 'order', 'OrderPlaced', '{"a":2}',
        '{"schemaVersion":1,"timestamp":"2026-01-05T14:58:09.510Z","actor":"ann"}');
    INSERT INTO streams VALUES ('cart-1', 1, '{}'), ('order-1', 0, '{"owner":"ann"}');
    INSERT INTO idempotency VALUES
      ('k1', '[{"streamId":"order-1","version":2,"position":2,"duplicate":false}]', 'fp1');
    PRAGMA user_version = 3;`);
  db.close();
}

describe('sqlite event store: a file written before tags', () => {
  it('migrates in place: the tag index holds every stored event under its stream id, reads return tags []', async () => {
    const path = freshPath();
    writeSchema3File(path);
    const store = storeAt(path);

    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(EVENT_STORE_SCHEMA_VERSION);
    expect(check.prepare('SELECT tag, position FROM event_tags ORDER BY position').raw().all()).toEqual([
      ['order-1', 1],
      ['order-1', 2],
      ['cart-1', 3],
      ['order-2', 4],
    ]);
    check.close();

    const order1 = await store.read(Query.tags('order-1'));
    expect(order1.head).toBe(4);
    expect(order1.events.map((e) => [e.position, e.streamId, e.version, e.type, e.data, e.tags])).toEqual([
      [1, 'order-1', 1, 'OrderPlaced', { a: 1 }, []],
      [2, 'order-1', 2, 'OrderPaid', {}, []],
    ]);
    expect(order1.events[0].id).toBe('01a2321c-f9e3-7e06-8616-a734a5a24c44');
    expect(order1.events[0].metadata).toEqual({ schemaVersion: 1, timestamp: '2026-01-05T14:58:09.507Z' });
    expect(positions((await store.read([{ types: ['OrderPlaced'] }])).events)).toEqual([1, 4]);
    expect(positions((await store.read([{ types: ['OrderPlaced'], tags: ['order-2'] }])).events)).toEqual([4]);
    // A deleted stream's events stay in the log, and queries find them as the in-memory store does.
    expect(positions((await store.read(Query.tags('cart-1'))).events)).toEqual([3]);
    expect((await store.readAll()).map((e) => e.tags)).toEqual([[], [], [], []]);
    expect((await store.readStream('order-1')).map((e) => e.tags)).toEqual([[], []]);
  });

  it('lets conditions see the old events and continues their streams with tagged appends', async () => {
    const path = freshPath();
    writeSchema3File(path);
    const store = storeAt(path);
    const order1: Query = [{ tags: ['order-1'] }];

    const conflict = await errorOf(
      store.append([{ streamId: 'order-1', type: 'OrderShipped', data: {} }], { condition: { failIfEventsMatch: order1 } }),
    );
    expect(conflict).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: 1, after: 0 } });
    const later = await errorOf(
      store.append([{ streamId: 'x-1', type: 'X', data: {} }], { condition: { failIfEventsMatch: order1, after: 1 } }),
    );
    expect(later).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: 2, after: 1 } });
    const byType = await errorOf(store.append([], { condition: { failIfEventsMatch: [{ types: ['OrderPlaced'] }], after: 1 } }));
    expect(byType).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: 4, after: 1 } });
    expect(await store.headPosition()).toBe(4);

    const { head } = await store.read(order1);
    const [shipped] = await store.append([{ streamId: 'order-1', type: 'OrderShipped', data: {}, tags: ['product:p1'] }], {
      condition: { failIfEventsMatch: order1, after: head },
    });
    expect(shipped).toEqual({ streamId: 'order-1', version: 3, position: 5, duplicate: false });
    expect(
      await store.append('order-2', [{ type: 'OrderPaid', data: {}, tags: ['product:p1'] }], { expectedVersion: 1 }),
    ).toEqual({ streamId: 'order-2', version: 2, position: 6, duplicate: false });

    expect((await store.readStream('order-1')).map((e) => [e.version, e.position, e.tags])).toEqual([
      [1, 1, []],
      [2, 2, []],
      [3, 5, ['product:p1']],
    ]);
    expect(positions((await store.read(order1)).events)).toEqual([1, 2, 5]);
    expect(positions((await store.read(Query.tags('product:p1'))).events)).toEqual([5, 6]);
    expect(positions((await store.read([{ tags: ['order-2', 'product:p1'] }])).events)).toEqual([6]);
    // What the old version stored keeps working: the idempotency key, the deleted stream, the metadata.
    expect(await store.findIdempotentResult('k1', 'fp1')).toEqual([
      { streamId: 'order-1', version: 2, position: 2, duplicate: true },
    ]);
    expect((await errorOf(store.append('cart-1', [{ type: 'ItemAdded', data: {} }]))).code).toBe('STREAM_DELETED');
    expect((await store.streamInfo('order-1')).metadata).toEqual({ owner: 'ann' });
  });

  it('migrates all or nothing: a step that fails leaves the file at the old schema, untouched', () => {
    const path = freshPath();
    writeSchema3File(path);
    // A table in the way makes the step fail after it has already added the tags column.
    const db = new Database(path);
    db.exec('CREATE TABLE event_tags (x)');
    db.close();
    expect(() => createSqliteEventStore({ path })).toThrow(expect.objectContaining({ code: 'STORE_ERROR' }));
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(3);
    const columns = (check.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('events') as string[]).sort();
    expect(columns).toEqual(['category', 'data', 'id', 'metadata', 'position', 'stream_id', 'type', 'version']);
    check.close();
  });
});

describe('sqlite event store: tags', () => {
  it('stores tags as given (repeats once), indexes each event under its stream id and tags once each', async () => {
    const path = freshPath();
    const store = storeAt(path);
    await store.append('order-1', [
      { type: 'A', data: {} },
      { type: 'B', data: {}, tags: ['product:p1', 'product:p2', 'product:p1'] },
      // The stream id given as a tag too: one index row, and the tag kept as given.
      { type: 'C', data: {}, tags: ['order-1', 'product:p2'] },
    ]);
    expect((await store.readStream('order-1')).map((e) => e.tags)).toEqual([
      [],
      ['product:p1', 'product:p2'],
      ['order-1', 'product:p2'],
    ]);
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT position, tag FROM event_tags ORDER BY position, tag').raw().all()).toEqual([
      [1, 'order-1'],
      [2, 'order-1'],
      [2, 'product:p1'],
      [2, 'product:p2'],
      [3, 'order-1'],
      [3, 'product:p2'],
    ]);
    expect(check.prepare('SELECT tags FROM events ORDER BY position').pluck().all()).toEqual([
      null,
      '["product:p1","product:p2"]',
      '["order-1","product:p2"]',
    ]);
    check.close();
  });

  it('indexes long appends completely, across the chunks the tag rows are written in', async () => {
    const store = storeAt(freshPath());
    // 23 events with 0 to 64 tags each: 1 + 0 … 1 + 64 rows per event, so chunk boundaries fall everywhere.
    const events = Array.from({ length: 23 }, (_, i) => ({
      type: 'A',
      data: { i },
      tags: Array.from({ length: (i * 7) % 65 }, (_, t) => `t${t}`),
    }));
    await store.append('other-1', [{ type: 'A', data: {} }]);
    await store.append('long-1', events);
    for (const t of [0, 6, 15, 16, 17, 40, 63]) {
      const want = events.flatMap((e, i) => (e.tags.includes(`t${t}`) ? [i + 2] : []));
      expect(positions((await store.read(Query.tags(`t${t}`))).events), `t${t}`).toEqual(want);
    }
    expect(positions((await store.read(Query.tags('long-1'))).events)).toEqual(events.map((_, i) => i + 2));
    expect((await store.readStream('long-1')).map((e) => e.tags)).toEqual(events.map((e) => e.tags));
  });

  it('treats tags and types as data, never SQL', async () => {
    const store = storeAt(freshPath());
    const nasty = ["x'); DROP TABLE events; --", '"; DELETE FROM event_tags; --', '%', '_', '[1]', '{"a":1}', 'ü 🦄'];
    await store.append('s-1', [{ type: 'A', data: {}, tags: nasty }]);
    await store.append('s-2', [{ type: 'A', data: {}, tags: ['%x'] }]);
    for (const tag of nasty) expect(positions((await store.read(Query.tags(tag))).events), tag).toEqual([1]);
    expect((await store.read([{ tags: nasty, types: ['A'] }])).events).toHaveLength(1);
    expect((await store.read([{ types: ["A' OR 1=1 --"] }])).events).toEqual([]);
    expect(await store.headPosition()).toBe(2);
  });
});

describe('sqlite event store: read(query) in SQL', () => {
  // 60 events over 3 streams, 4 products, 3 types: enough for every kind of item to have misses between its hits.
  async function seed(store: SqliteEventStore): Promise<RecordedEvent[]> {
    for (let i = 0; i < 60; i++) {
      const tags = [`product:${i % 4}`, ...(i % 5 === 0 ? ['promo'] : [])];
      await store.append(`order-${i % 3}`, [
        { type: ['Placed', 'Paid', 'Shipped'][i % 3 === 0 ? 0 : i % 7 === 0 ? 2 : 1], data: { i }, tags },
      ]);
    }
    return store.readAll();
  }
  const matches = (e: RecordedEvent, item: QueryItem) =>
    (item.types === undefined || item.types.includes(e.type)) &&
    (item.tags === undefined || item.tags.every((t) => t === e.streamId || e.tags.includes(t)));
  const expected = (log: RecordedEvent[], query: Query, from = 0, limit = Number.POSITIVE_INFINITY) =>
    log
      .filter((e) => e.position >= from && query.some((item) => matches(e, item)))
      .slice(0, limit)
      .map((e) => e.position);

  const queries: Array<[string, Query]> = [
    ['one tag', [{ tags: ['product:1'] }]],
    ['a stream id as tag', [{ tags: ['order-2'] }]],
    ['types only', [{ types: ['Shipped', 'Placed'] }]],
    ['tag and types', [{ tags: ['product:2'], types: ['Paid'] }]],
    ['two tags, common first', [{ tags: ['order-0', 'promo'] }]],
    ['two tags, rare first', [{ tags: ['promo', 'order-0'] }]],
    ['three tags and a type', [{ tags: ['product:0', 'promo', 'order-0'], types: ['Placed'] }]],
    [
      'overlapping items',
      [{ tags: ['product:1'] }, { tags: ['promo'] }, { types: ['Shipped'] }, { tags: ['product:1'], types: ['Paid'] }],
    ],
    ['an item that matches nothing', [{ tags: ['nope'] }, { types: ['Nope'] }, { tags: ['order-1'], types: ['Nope'] }]],
    ['items of one tag each', [{ tags: ['nope'] }, { tags: ['promo'] }, { tags: ['order-1'] }]],
    ['everything, with another item', [{ tags: ['promo'] }, {}]],
  ];

  it('answers every kind of item, alone and OR-ed, from any position and with any limit, as the port says', async () => {
    const store = storeAt(freshPath());
    const log = await seed(store);
    for (const [name, query] of queries) {
      const all = await store.read(query);
      expect(positions(all.events), name).toEqual(expected(log, query));
      expect(all.head, name).toBe(60);
      for (const from of [0, 1, 17, 45, 61]) {
        for (const limit of [1, 2, 5, 100]) {
          const page = await store.read(query, { from, limit });
          const want = expected(log, query, from, limit);
          expect(positions(page.events), `${name} from ${from} limit ${limit}`).toEqual(want);
          expect(page.head, `${name} from ${from} limit ${limit}`).toBe(want.length === limit ? want[limit - 1] : 60);
        }
      }
    }
  });

  it('checks a condition of every kind of query against the first matching event after `after`', async () => {
    const store = storeAt(freshPath());
    const log = await seed(store);
    const shapes: Array<[string, Query]> = [
      ...queries,
      ['one tag with types, one without', [{ tags: ['order-1'], types: ['Shipped'] }, { tags: ['product:3'] }]],
    ];
    for (const [name, query] of shapes) {
      for (const after of [0, 1, 16, 44, 59, 60]) {
        const [first] = expected(log, query, after + 1);
        const outcome = await store.append([], { condition: { failIfEventsMatch: query, after } }).then(
          () => undefined,
          (err: unknown) => err,
        );
        if (first === undefined) expect(outcome, `${name} after ${after}`).toBeUndefined();
        else {
          expect(isChronicleError(outcome, 'CONCURRENCY_CONFLICT'), `${name} after ${after}`).toBe(true);
          expect((outcome as { details?: unknown }).details, `${name} after ${after}`).toEqual({ position: first, after });
        }
      }
    }
  });

  it('pages through a query with head as the next from, meeting every matching event once', async () => {
    const store = storeAt(freshPath());
    const log = await seed(store);
    const query = queries[7][1];
    const seen: number[] = [];
    for (let from = 0; ; ) {
      const page = await store.read(query, { from, limit: 3 });
      seen.push(...positions(page.events));
      if (page.events.length < 3) break;
      from = page.head + 1;
    }
    expect(seen).toEqual(expected(log, query));
  });

  it('takes queries of 1,000 items with many tags and types, beyond any SQL variable limit', async () => {
    const store = storeAt(freshPath());
    const log = await seed(store);
    const filler = (i: number): QueryItem => ({
      tags: Array.from({ length: 40 }, (_, t) => `missing-${i}-${t}`),
      types: Array.from({ length: 30 }, (_, t) => `Type${t}`),
    });
    const query: Query = [...Array.from({ length: 998 }, (_, i) => filler(i)), { tags: ['product:3'] }, { types: ['Shipped'] }];
    expect(positions((await store.read(query)).events)).toEqual(expected(log, query));
    const conflict = await errorOf(store.append([], { condition: { failIfEventsMatch: query, after: 30 } }));
    expect(conflict).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: expected(log, query, 31)[0] } });
  });
});

describe('sqlite event store: conditions inside group commit', () => {
  const stock = (product: string): Query => [{ tags: [`product:${product}`], types: ['StockReserved'] }];
  const reserve = (product: string, order: string) => ({
    streamId: `order-${order}`,
    type: 'StockReserved',
    data: { product },
    tags: [`product:${product}`],
  });

  it('sees the appends before it in the same group: of overlapping conditions one commits, disjoint ones all do', async () => {
    const store = storeAt(freshPath());
    const groups = store.stats().groups;
    const settled = await Promise.allSettled([
      store.append([reserve('p1', 'a')], { condition: { failIfEventsMatch: stock('p1'), after: 0 } }),
      store.append([reserve('p1', 'b')], { condition: { failIfEventsMatch: stock('p1'), after: 0 } }),
      store.append([reserve('p2', 'c')], { condition: { failIfEventsMatch: stock('p2'), after: 0 } }),
      store.append([reserve('p1', 'd')], { condition: { failIfEventsMatch: stock('p1'), after: 0 } }),
      store.append([reserve('p3', 'e')], { condition: { failIfEventsMatch: stock('p3'), after: 0 } }),
    ]);
    expect(store.stats().groups - groups, 'all five in one transaction').toBe(1);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    for (const s of [settled[1], settled[3]]) {
      const reason = (s as PromiseRejectedResult).reason;
      expect(isChronicleError(reason, 'CONCURRENCY_CONFLICT')).toBe(true);
      expect(reason.details).toEqual({ position: 1, after: 0 });
    }
    const log = await store.readAll();
    expect(log.map((e) => [e.position, e.streamId])).toEqual([
      [1, 'order-a'],
      [2, 'order-c'],
      [3, 'order-e'],
    ]);
  });

  it('does not see its own events, checks after the expected versions, and keeps no key when it fails', async () => {
    const store = storeAt(freshPath());
    await store.append('order-x', [{ type: 'StockReserved', data: {}, tags: ['product:p9'] }]);
    // The condition would fail (position 1), but the expected version is checked first and is what is reported.
    const version = await errorOf(
      store.append('order-x', [{ type: 'A', data: {} }], { expectedVersion: 0, condition: { failIfEventsMatch: stock('p9') } }),
    );
    expect(version.code).toBe('CONCURRENCY_CONFLICT');
    expect(version.details).toMatchObject({ streamId: 'order-x', expectedVersion: 0, actualVersion: 1 });

    const key = { idempotencyKey: 'reserve-1', idempotencyFingerprint: 'f' };
    const failed = await errorOf(store.append([reserve('p9', 'y')], { ...key, condition: { failIfEventsMatch: stock('p9') } }));
    expect(failed.details).toEqual({ position: 1, after: 0 });
    expect(await store.findIdempotentResult('reserve-1')).toBeUndefined();

    const [ok] = await store.append([reserve('p9', 'y'), reserve('p9', 'y')], {
      ...key,
      condition: { failIfEventsMatch: stock('p9'), after: 1 },
    });
    expect(ok).toEqual({ streamId: 'order-y', version: 2, position: 3, duplicate: false });
    // A repeat is answered from the key without checking the condition, which no longer holds.
    const [again] = await store.append([reserve('p9', 'y')], { ...key, condition: { failIfEventsMatch: stock('p9'), after: 1 } });
    expect(again).toEqual({ ...ok, duplicate: true });
    expect(await store.headPosition()).toBe(3);
  });

  it('applies the condition to appendMany and the stream append too, all or nothing', async () => {
    const store = storeAt(freshPath());
    await store.append('order-1', [{ type: 'StockReserved', data: {}, tags: ['product:p1'] }]);
    const many = await errorOf(
      store.appendMany(
        [
          { streamId: 'order-2', events: [{ type: 'StockReserved', data: {}, tags: ['product:p2'] }] },
          { streamId: 'order-3', events: [{ type: 'StockReserved', data: {}, tags: ['product:p3'] }] },
        ],
        { condition: { failIfEventsMatch: [{ tags: ['product:p3'] }, { tags: ['product:p1'] }] } },
      ),
    );
    expect(many).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: 1 } });
    const single = await errorOf(
      store.append('order-2', [{ type: 'A', data: {} }], { condition: { failIfEventsMatch: stock('p1') } }),
    );
    expect(single).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: 1 } });
    expect(await store.headPosition()).toBe(1);
    expect(
      await store.appendMany([{ streamId: 'order-2', events: [{ type: 'A', data: {} }] }], {
        condition: { failIfEventsMatch: stock('p1'), after: 1 },
      }),
    ).toEqual([{ streamId: 'order-2', version: 1, position: 2, duplicate: false }]);
  });

  it('holds between two stores on one file: the second sees what the first committed', async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    const { head } = await a.read(stock('p1'));
    await b.append([reserve('p1', 'b')], { condition: { failIfEventsMatch: stock('p1'), after: head } });
    const lost = await errorOf(a.append([reserve('p1', 'a')], { condition: { failIfEventsMatch: stock('p1'), after: head } }));
    expect(lost).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { position: 1, after: 0 } });
    const read = await a.read(stock('p1'));
    expect([positions(read.events), read.head]).toEqual([[1], 1]);
  });
});
