// What the conformance suite does not pin for the PostgreSQL store: group commit, round trips, LISTEN with reconnects,
// concurrent first starts, schema isolation and driver errors.
import { isChronicleError, type RecordedEvent } from 'chronicle-es';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresEventStore, type PostgresEventStore } from './index.js';

const schemas: Array<{ drop(): Promise<void> }> = [];
const stores: PostgresEventStore[] = [];
const pools: pg.Pool[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(pools.splice(0).map((p) => p.end()));
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

function schema(): string {
  const fresh = freshSchema('pgev');
  schemas.push(fresh);
  return fresh.schema;
}
function open(name: string, options: { pool?: pg.Pool } = {}): PostgresEventStore {
  const store = options.pool
    ? createPostgresEventStore({ pool: options.pool, schema: name })
    : createPostgresEventStore({ connectionString: PG_URL, schema: name, poolSize: 3 });
  stores.push(store);
  return store;
}
const counted = (n: number) => ({ type: 'Counted', data: { n } });
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) => (isChronicleError(err) ? err.code : `untyped: ${String(err)}`),
  );

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// A pool whose query calls are counted: each is one round trip (node-postgres sends one statement at a time).
function countingPool() {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 3 });
  pools.push(pool);
  const calls: string[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
    const config = args[0] as string | { text: string };
    calls.push(typeof config === 'string' ? config : config.text);
    return query(...args);
  };
  return { pool, calls };
}

describe.skipIf(!pgAvailable)('postgres event store: group commit', () => {
  it('a caller awaiting each append sends one statement per append; concurrent appends share groups', async () => {
    const { pool, calls } = countingPool();
    const store = open(schema(), { pool });
    await store.headPosition();
    calls.length = 0;
    for (let i = 0; i < 5; i++) await store.append('one-by-one', [counted(i)]);
    expect(calls.filter((c) => c.includes('append_events'))).toHaveLength(5);
    expect(calls).toHaveLength(5);
    expect(store.stats()).toMatchObject({ groups: 5, appends: 5, largestGroup: 1 });

    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.append(`many-${i % 10}`, [counted(i)])));
    const stats = store.stats();
    expect(stats.appends).toBe(45);
    expect(stats.groups).toBeLessThan(45 - 5);
    expect(stats.largestGroup).toBeGreaterThan(1);
    // Appends to one stream in one group get consecutive versions in call order.
    const versions = results.filter((r) => r.streamId === 'many-3').map((r) => r.version);
    expect(versions).toEqual([1, 2, 3, 4]);
    expect(new Set(results.map((r) => r.position)).size).toBe(40);
  });

  it('one failing append in a group fails alone; the rest of the group commits', async () => {
    const store = open(schema());
    await store.append('taken', [{ type: 'Counted', data: {}, id: 'event-id-taken' }]);
    await store.append('gone', [counted(0)]);
    await store.deleteStream('gone');
    await store.append('keyed', [counted(0)], { idempotencyKey: 'k-1', idempotencyFingerprint: 'f-1' });
    const before = store.stats().groups;
    const outcomes = await Promise.all([
      codeOf(store.append('g-ok-1', [counted(1)])),
      codeOf(store.append('g-conflict', [counted(1)], { expectedVersion: 3 })),
      codeOf(store.append('g-ok-2', [counted(1)], { expectedVersion: 'no_stream' })),
      codeOf(store.append('gone', [counted(1)])),
      codeOf(store.append('g-other', [counted(1)], { idempotencyKey: 'k-1', idempotencyFingerprint: 'f-2' })),
      codeOf(
        store.appendMany([
          { streamId: 'g-many-1', events: [counted(1)] },
          { streamId: 'g-many-2', events: [counted(1)], expectedVersion: 'exists' },
        ]),
      ),
      codeOf(store.append('g-ok-3', [counted(1)])),
    ]);
    expect(outcomes).toEqual([
      'ok',
      'CONCURRENCY_CONFLICT',
      'ok',
      'STREAM_DELETED',
      'IDEMPOTENCY_MISMATCH',
      'CONCURRENCY_CONFLICT',
      'ok',
    ]);
    expect(store.stats().groups - before).toBe(1);
    for (const id of ['g-conflict', 'g-many-1', 'g-many-2']) expect((await store.streamInfo(id)).version).toBe(0);
    for (const id of ['g-ok-1', 'g-ok-2', 'g-ok-3']) expect((await store.streamInfo(id)).version).toBe(1);
  });

  it('an event id already stored breaks its group; the group goes again append by append and only that one fails', async () => {
    const store = open(schema());
    await store.append('taken', [{ type: 'Counted', data: {}, id: 'event-id-taken' }]);
    const outcomes = await Promise.all([
      codeOf(store.append('s-ok-1', [counted(1)])),
      codeOf(store.append('s-dup', [counted(1), { type: 'Counted', data: {}, id: 'event-id-taken' }])),
      codeOf(store.append('s-ok-2', [counted(1)], { idempotencyKey: 'split-key' })),
    ]);
    expect(outcomes).toEqual(['ok', 'INVALID_ARGUMENT', 'ok']);
    expect(store.stats().splits).toBe(1);
    expect((await store.streamInfo('s-dup')).version).toBe(0);
    expect(await store.findIdempotentResult('split-key')).toMatchObject([{ streamId: 's-ok-2', version: 1 }]);
  });

  it('two stores (two processes) appending to the same streams at once lose no update and never deadlock', async () => {
    const name = schema();
    const [a, b] = [open(name), open(name)];
    // appendMany over the same streams in opposite orders: locks are taken in one order, so no deadlock.
    const calls = Array.from({ length: 60 }, (_, i) => {
      const store = i % 2 === 0 ? a : b;
      const pair = i % 2 === 0 ? ['x-1', 'x-2'] : ['x-2', 'x-1'];
      return store.appendMany(pair.map((streamId) => ({ streamId, events: [counted(i)] })));
    });
    await Promise.all(calls);
    expect((await a.streamInfo('x-1')).version).toBe(60);
    expect((await b.readStream('x-2')).map((e) => e.version)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });
});

describe.skipIf(!pgAvailable)('postgres event store: reads', () => {
  it('readStream of a live stream is one query; readAll one query besides the safe-head rounds', async () => {
    const { pool, calls } = countingPool();
    const store = open(schema(), { pool });
    await store.append('read-1', [counted(1), counted(2)]);
    calls.length = 0;
    expect((await store.readStream('read-1')).map((e) => e.version)).toEqual([1, 2]);
    expect(calls).toHaveLength(1);
    calls.length = 0;
    expect((await store.readAll()).map((e) => e.position)).toEqual([1, 2]);
    // One round when nothing else is in flight; more (one with the lock table, and the tracker's own follow-ups) when
    // other transactions in the cluster were open — other test files run beside this one.
    expect(calls.filter((c) => c.includes('pg_current_snapshot')).length).toBeLessThanOrEqual(6);
    expect(calls.filter((c) => !c.includes('pg_current_snapshot'))).toHaveLength(1);
  });

  it('keeps data and metadata byte for byte (json, not jsonb): key order, large numbers, NUL escapes', async () => {
    const store = open(schema());
    const data = { z: 1, a: { y: [3, 2, 1], b: 'x\u0000y' }, big: 2 ** 60, neg: -0.5e-10 };
    await store.append('bytes-1', [{ type: 'Counted', data, metadata: { actor: 'ann', z: 1, a: 2 } }]);
    const [event] = await store.readStream('bytes-1');
    expect(JSON.stringify(event.data)).toBe(JSON.stringify(data));
    expect(Object.keys(event.metadata).slice(0, 3)).toEqual(['actor', 'z', 'a']);
  });

  it('isolates schemas: a store sees only its own events', async () => {
    const [a, b] = [open(schema()), open(schema())];
    await a.append('iso-1', [counted(1)]);
    await b.append('iso-1', [counted(1), counted(2)]);
    expect((await a.readAll()).map((e) => e.streamId)).toEqual(['iso-1']);
    expect((await b.streamInfo('iso-1')).version).toBe(2);
  });
});

describe.skipIf(!pgAvailable)('postgres event store: start-up and errors', () => {
  it('four stores on separate pools starting at once all migrate one schema, once', async () => {
    const name = schema();
    const all = [open(name), open(name), open(name), open(name)];
    const results = await Promise.all(all.map((s, i) => s.append(`start-${i}`, [counted(i)])));
    expect(results.map((r) => r.version)).toEqual([1, 1, 1, 1]);
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT component, version FROM "${name}".chronicle_migrations ORDER BY component, version`,
      );
      expect(rows).toEqual([
        { component: 'events', version: 1 },
        { component: 'events', version: 2 },
        { component: 'lifecycle', version: 1 },
      ]);
    } finally {
      await client.end();
    }
  });

  it('a server that cannot be reached gives STORE_ERROR with the driver error as cause', async () => {
    const store = createPostgresEventStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: 'unreachable' });
    stores.push(store);
    const err = await store.append('x', [counted(1)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isChronicleError(err, 'STORE_ERROR')).toBe(true);
    expect((err as Error).cause).toBeDefined();
    expect(await codeOf(store.readAll())).toBe('STORE_ERROR');
  });

  it('refuses bad options with INVALID_ARGUMENT', () => {
    const codeOfSync = (fn: () => unknown) => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return isChronicleError(err) ? err.code : String(err);
      }
    };
    expect(codeOfSync(() => createPostgresEventStore({ connectionString: PG_URL, schema: 'Bad-Name' }))).toBe('INVALID_ARGUMENT');
    expect(codeOfSync(() => createPostgresEventStore({} as never))).toBe('INVALID_ARGUMENT');
  });
});

describe.skipIf(!pgAvailable)('postgres event store: LISTEN/NOTIFY', () => {
  it("wakes a subscriber on another process's append, and keeps doing so after its listener's backend is killed", async () => {
    const name = schema();
    const [reader, writer] = [open(name), open(name)];
    await writer.append('listen-0', [counted(0)]);
    const seen: RecordedEvent[] = [];
    // A poll interval longer than the test: only a notification (or the listener's reconnect) can wake it.
    const sub = reader.subscribe({ from: 0, pollIntervalMs: 120_000 }, (events) => {
      seen.push(...events);
    });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const listenerPid = async () => {
        const { rows } = await admin.query(
          `SELECT pid FROM pg_stat_activity WHERE application_name = 'chronicle-listener' AND query = $1`,
          [`LISTEN "chronicle_events_${name}"`],
        );
        return rows[0]?.pid as number | undefined;
      };
      await waitFor(async () => (await listenerPid()) !== undefined && seen.length === 1, 'the listener and the first event');
      const first = (await listenerPid()) as number;

      await writer.append('listen-1', [counted(1)]);
      await waitFor(() => seen.length === 2, 'a notified event');

      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      // Appended while the listener is down: its notification is lost; the reconnect wakes the subscriber anyway.
      await writer.append('listen-2', [counted(2)]);
      await waitFor(() => seen.length === 3, 'the event appended while the listener was down');
      await waitFor(async () => ((await listenerPid()) ?? first) !== first, 'a new listener');

      await writer.append('listen-3', [counted(3)]);
      await waitFor(() => seen.length === 4, 'an event notified on the new connection');
      expect(seen.map((e) => e.streamId)).toEqual(['listen-0', 'listen-1', 'listen-2', 'listen-3']);
    } finally {
      await admin.end();
      await sub.stop();
    }
  });
});
