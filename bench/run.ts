// `npm run bench [-- --quick] [--store postgres]`: the core workloads of issue 2 on SQLite (or those of issue 7 on
// PostgreSQL, bench/postgres.ts), then the DCB lines of issue 8 on the same store (bench/dcb.ts), one JSON line each,
// then a table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandHandler, createProjector, type Decider, defineProjection, fold } from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadTx } from 'chronicle-es/sqlite';
import { type BenchStores, runDcbBench } from './dcb.js';
import { measure, printTable, report, scaled, selected } from './harness.js';
import { event, type Payload, payload } from './payload.js';
import { runPostgresBench } from './postgres.js';
import { runRawBaselines } from './raw-sqlite-baseline.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-'));
let files = 0;
const file = (name: string) => join(dir, `${++files}-${name}.db`);
const n = scaled;

async function appends(name: string, sync: 'full' | 'normal', concurrency: number, batch: number, ops: number, target: number) {
  const store = createSqliteEventStore({ path: file(name), synchronous: sync });
  const events = Array.from({ length: batch }, (_, i) => event(i));
  const result = await measure(name, { ops, concurrency, eventsPerOp: batch, sync, target }, (i) =>
    store.append(`order-${i}`, batch === 1 ? [event(i)] : events, { expectedVersion: 'no_stream' }),
  );
  await store.close();
  return result;
}

type Counter = { count: number; total: number };
type CounterEvent = { type: 'Added'; data: { amount: number } };
const counter: Decider<{ type: 'Add'; data: { id: string; amount: number } }, CounterEvent, Counter> = {
  initialState: { count: 0, total: 0 },
  decide: (c) => [{ type: 'Added', data: { amount: c.data.amount } }],
  evolve: (s, e) => ({ count: s.count + 1, total: s.total + e.data.amount }),
};

async function commandHandler() {
  const store = createSqliteEventStore({ path: file('commands') });
  const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.id}` });
  // 1,000 streams, each already holding a few events, so every command really loads and folds history.
  for (let s = 0; s < 1000; s++)
    await store.append(`counter-${s}`, [
      { type: 'Added', data: { amount: 1 } },
      { type: 'Added', data: { amount: 2 } },
    ]);
  const result = await measure(
    'command-handler-64-in-flight',
    { ops: n(40_000), concurrency: 64, eventsPerOp: 1, sync: 'full', target: 20_000, unit: 'ops/s' },
    (i) => handle({ type: 'Add', data: { id: String(i % 1000), amount: i } }, {}),
  );
  await store.close();
  return result;
}

async function rehydration() {
  const store = createSqliteEventStore({ path: file('rehydrate') });
  for (let b = 0; b < 10; b++)
    await store.append(
      'order-big',
      Array.from({ length: 100 }, (_, i) => event(b * 100 + i)),
    );
  const model = { initialState: 0, evolve: (s: number) => s + 1 };
  const result = await measure(
    'rehydrate-1000-event-stream',
    { ops: n(400), concurrency: 1, eventsPerOp: 1000, sync: 'full', target: 300_000 },
    async () => {
      const state = fold(model, await store.readStream('order-big'));
      if (state !== 1000) throw new Error(`folded ${state} events`);
    },
  );
  await store.close();
  return result;
}

async function catchUpEvents(name: string, total: number) {
  const store = createSqliteEventStore({ path: file(name) });
  for (let b = 0; b < total / 1000; b++) {
    await store.appendMany(
      Array.from({ length: 10 }, (_, s) => ({
        streamId: `order-${b}-${s}`,
        events: Array.from({ length: 100 }, (_, i) => event(i)),
      })),
    );
  }
  return store;
}

// One row per order plus a running total: an insert and an update per event, the usual read-model shape.
const ordersProjection = (name: string) =>
  defineProjection<SqliteReadTx>({
    name,
    version: 1,
    setup(tx) {
      tx.run(
        `CREATE TABLE ${tx.table('orders')} (stream_id TEXT PRIMARY KEY, lines INTEGER NOT NULL, position INTEGER NOT NULL)`,
      );
    },
    handlers: {
      OrderPlaced(e, tx) {
        const data = e.data as Payload;
        tx.run(
          `INSERT INTO ${tx.table('orders')} (stream_id, lines, position) VALUES (?, ?, ?)
           ON CONFLICT (stream_id) DO UPDATE SET lines = lines + excluded.lines, position = excluded.position`,
          [e.streamId, data.lines.length, e.position],
        );
      },
    },
  });

async function projectionCatchUp(name: string, projections: number, target: number | undefined, note: string) {
  const total = n(100_000);
  const store = await catchUpEvents(`${name}-events`, total);
  const readStore = createSqliteReadStore({ path: file(`${name}-read`) });
  const defs = Array.from({ length: projections }, (_, i) => ordersProjection(i === 0 ? 'orders' : `orders${i + 1}`));
  const projector = createProjector({ eventStore: store, readStore, projections: defs });
  const head = await store.headPosition();
  const started = performance.now();
  await projector.start();
  await projector.waitForPosition(head, { timeoutMs: 600_000 });
  const seconds = (performance.now() - started) / 1000;
  await projector.stop();
  await readStore.close();
  await store.close();
  return report({
    name,
    rate: Math.round(total / seconds),
    unit: 'events/s',
    ops: 1,
    events: total,
    seconds: +seconds.toFixed(3),
    p50Ms: 0,
    p99Ms: 0,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    sync: 'normal (read store)',
    target,
    note,
  });
}

// The DCB lines' stores: a file each, at the default synchronous=FULL.
const sqliteStores: BenchStores = {
  kind: 'sqlite',
  sync: 'full',
  appendOps: 40_000,
  orderOps: 12_000,
  async open(role) {
    const store = createSqliteEventStore({ path: file(role) });
    return {
      store,
      groups: () => ({ groups: store.stats().groups, appends: store.stats().operations }),
      close: () => store.close(),
    };
  },
};

const storeAt = process.argv.indexOf('--store');
const storeKind = storeAt === -1 ? 'sqlite' : process.argv[storeAt + 1];
if (storeKind !== 'sqlite' && storeKind !== 'postgres') throw new Error(`--store is sqlite or postgres, not ${storeKind}`);

try {
  if (storeKind === 'postgres') await runPostgresBench();
  else await runSqliteBench();
  printTable();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function runSqliteBench() {
  if (selected('append-1-event-64-in-flight')) await appends('append-1-event-64-in-flight', 'full', 64, 1, n(60_000), 30_000);
  if (selected('append-1-event-1-caller')) await appends('append-1-event-1-caller', 'full', 1, 1, n(8_000), 4_000);
  if (selected('append-1-event-1-caller-normal'))
    await appends('append-1-event-1-caller-normal', 'normal', 1, 1, n(30_000), 25_000);
  if (selected('append-100-events-1-caller')) await appends('append-100-events-1-caller', 'full', 1, 100, n(2_000), 120_000);
  if (selected('command-handler-64-in-flight')) await commandHandler();
  if (selected('rehydrate-1000-event-stream')) await rehydration();
  if (selected('projection-catch-up-sqlite'))
    await projectionCatchUp('projection-catch-up-sqlite', 1, 150_000, 'read, apply and checkpoint per batch in one transaction');
  if (selected('projection-catch-up-5-projections'))
    await projectionCatchUp(
      'projection-catch-up-5-projections',
      5,
      undefined,
      'five projections over one log; events/s of the log, each event applied five times',
    );
  if (selected('raw-better-sqlite3')) runRawBaselines(file, { n, payload });
  await runDcbBench(sqliteStores);
}
