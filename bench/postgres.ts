// `npm run bench -- --store postgres`: the PostgreSQL workloads of issue 7, each measured beside a bare-pg baseline
// doing the same work in the same run (bench/pg-baseline.ts, measured first), every store in a fresh schema dropped
// afterwards. Each Chronicle line carries `baseline` (the bare line's name) and `ratio` (its rate over the bare one).
import { createProjector, defineProjection, fold, type SqlReadTx } from 'chronicle-es';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import { type BenchStores, runDcbBench } from './dcb.js';
import { type BenchResult, cpuOfAll, measure, scaled, selected, warmUp } from './harness.js';
import { event, type Payload } from './payload.js';
import {
  type AppendSpec,
  appendTarget,
  bareAppends,
  bareCatchUp,
  bareRehydrate,
  checkProjected,
  type LogTotals,
  ORDERS_COLUMNS,
  PROJECTED_SQL,
  type Projected,
} from './pg-baseline.js';
import { type Admin, openAdmin } from './pg-server.js';

const n = scaled;
const SYNC = 'synchronous_commit=on';

/** The workloads, in its order; the targets are its "Chronicle target" column. */
export const APPENDS: AppendSpec[] = [
  { name: 'pg-append-1-event-1-caller', ops: n(8_000), concurrency: 1, batch: 1, connections: 1, target: 2_200 },
  {
    name: 'pg-append-1-event-64-in-flight',
    ops: n(60_000),
    concurrency: 64,
    batch: 1,
    streams: 1000,
    connections: 32,
    target: 15_000,
  },
  { name: 'pg-append-100-events-1-caller', ops: n(2_000), concurrency: 1, batch: 100, connections: 1, target: 50_000 },
];

function openStore(admin: Admin, role: string, poolSize: number) {
  const url = admin.url(role);
  const store = createPostgresEventStore({ connectionString: url, schema: admin.freshSchema(role), poolSize });
  return { store, url };
}

async function appends(admin: Admin, spec: AppendSpec, baseline: BenchResult | undefined) {
  const { store, url } = openStore(admin, 'append', spec.connections);
  try {
    const batch = Array.from({ length: spec.batch }, (_, i) => event(i));
    await warmUp(spec.concurrency, (k) => store.append(`warm-${k}`, batch, { expectedVersion: 'no_stream' }));
    const before = store.stats();
    await measure(
      spec.name,
      {
        ops: spec.ops,
        concurrency: spec.concurrency,
        eventsPerOp: spec.batch,
        sync: SYNC,
        target: spec.target,
        baseline,
        serverCpu: admin.backendCpu(url),
        note: `poolSize ${spec.connections}`,
        // Group commit: how many appends went per round trip and transaction.
        check: async () => {
          const after = store.stats();
          const groups = after.groups - before.groups;
          return `${groups} groups of ${((after.appends - before.appends) / groups).toFixed(1)} appends on average`;
        },
      },
      (i) => {
        const { streamId, expected } = appendTarget(spec, i);
        return store.append(streamId, spec.batch === 1 ? [event(i)] : batch, {
          expectedVersion: expected === 0 ? 'no_stream' : expected,
        });
      },
    );
  } finally {
    await store.close();
  }
}

async function rehydration(admin: Admin, name: string, reads: number, baseline: BenchResult | undefined) {
  const { store, url } = openStore(admin, 'read', 1);
  try {
    for (let b = 0; b < 10; b++) {
      await store.append(
        'order-big',
        Array.from({ length: 100 }, (_, i) => event(b * 100 + i)),
      );
    }
    const model = { initialState: 0, evolve: (s: number) => s + 1 };
    const read = async () => {
      const state = fold(model, await store.readStream('order-big'));
      if (state !== 1000) throw new Error(`folded ${state} events`);
    };
    await warmUp(1, read);
    await measure(
      name,
      {
        ops: reads,
        concurrency: 1,
        eventsPerOp: 1000,
        sync: SYNC,
        target: 280_000,
        baseline,
        serverCpu: admin.backendCpu(url),
      },
      read,
    );
  } finally {
    await store.close();
  }
}

// One row per order stream: an upsert per event, counting events and summing positions so the check after the run
// can tell a lost or doubled event. Written against the portable SqlReadTx, as a user's projection would be.
const ordersProjection = defineProjection<SqlReadTx>({
  name: 'orders',
  version: 1,
  setup: (tx) => tx.run(`CREATE TABLE ${tx.table('orders')} (${ORDERS_COLUMNS})`),
  handlers: {
    OrderPlaced(e, tx) {
      const t = tx.table('orders');
      return tx.run(
        `INSERT INTO ${t} (stream_id, lines, events, position_sum, position) VALUES (?, ?, 1, ?, ?)
         ON CONFLICT (stream_id) DO UPDATE SET lines = ${t}.lines + excluded.lines, events = ${t}.events + 1,
         position_sum = ${t}.position_sum + excluded.position_sum, position = excluded.position`,
        [e.streamId, (e.data as Payload).lines.length, e.position, e.position],
      );
    },
  },
});

async function projectionCatchUp(admin: Admin, name: string, total: number, baseline: BenchResult | undefined) {
  const { store, url } = openStore(admin, 'log', 10);
  const readUrl = admin.url('read_store');
  const readStore = createPostgresReadStore({ connectionString: readUrl, schema: admin.freshSchema('read_store') });
  try {
    const events = Array.from({ length: 100 }, (_, i) => event(i));
    for (let b = 0; b < total / 1000; b++) {
      await store.appendMany(Array.from({ length: 10 }, (_, s) => ({ streamId: `order-${b}-${s}`, events })));
    }
    // What the check compares the read model against, read from the log before the clock starts.
    const log: LogTotals = { events: 0, positionSum: '0' };
    let sum = 0n;
    for (let from = 0; ; ) {
      const page = await store.readAll({ from, limit: 5000 });
      if (page.length === 0) break;
      for (const e of page) sum += BigInt(e.position);
      log.events += page.length;
      from = page[page.length - 1].position + 1;
    }
    log.positionSum = String(sum);
    if (log.events !== total) throw new Error(`${name}: the log holds ${log.events} of ${total} events`);
    const head = await store.headPosition();
    const projector = createProjector({ eventStore: store, readStore, projections: [ordersProjection] });
    const logCpu = admin.backendCpu(url);
    const readCpu = admin.backendCpu(readUrl);
    await measure(
      name,
      {
        ops: 1,
        concurrency: 1,
        eventsPerOp: total,
        sync: SYNC,
        target: 60_000,
        baseline,
        serverCpu: cpuOfAll(logCpu, readCpu),
        note: 'read, apply (one upsert per event) and checkpoint per batch into the PostgreSQL read store',
        check: async () => {
          const reader = readStore.reader('orders');
          const found = await reader.get<Projected>(`${PROJECTED_SQL}${reader.table('orders')}`);
          if (!found) throw new Error(`${name}: the read model is empty`);
          return checkProjected(name, found, log, 100);
        },
      },
      async () => {
        await projector.start();
        await projector.waitForPosition(head, { timeoutMs: 600_000 });
      },
    ).finally(() => projector.stop());
  } finally {
    await readStore.close();
    await store.close();
  }
}

// Each side of a DCB comparison has a store of its own, both open through the comparison's rounds: 16 connections
// each keeps the two within the server's budget beside other clients (max_connections 100 by default). Appends go
// one group at a time per store whatever the pool, so the pool size bounds only the decision reads.
const DCB_POOL = 16;

function dcbStores(admin: Admin): BenchStores {
  return {
    kind: 'pg',
    sync: SYNC,
    note: `poolSize ${DCB_POOL}`,
    appendOps: 20_000,
    orderOps: 4_000,
    async open(role) {
      const { store, url } = openStore(admin, role, DCB_POOL);
      return {
        store,
        serverCpu: admin.backendCpu(url),
        groups: () => ({ groups: store.stats().groups, appends: store.stats().appends }),
        close: () => store.close(),
      };
    },
  };
}

// `--no-baselines` leaves the bare-pg lines out (and the Chronicle lines without a ratio): to profile Chronicle alone.
const baselines = !process.argv.includes('--no-baselines');
const bare = (measureBare: () => Promise<BenchResult>) => (baselines ? measureBare() : Promise.resolve(undefined));

export async function runPostgresBench(): Promise<void> {
  const admin = await openAdmin();
  try {
    for (const spec of APPENDS) {
      if (selected(spec.name)) await appends(admin, spec, await bare(() => bareAppends(admin, spec)));
    }
    const rehydrate = 'pg-rehydrate-1000-event-stream';
    if (selected(rehydrate)) {
      await rehydration(admin, rehydrate, n(400), await bare(() => bareRehydrate(admin, rehydrate, n(400))));
    }
    const catchUp = 'pg-projection-catch-up';
    if (selected(catchUp)) {
      await projectionCatchUp(admin, catchUp, n(100_000), await bare(() => bareCatchUp(admin, catchUp, n(100_000))));
    }
    await runDcbBench(dcbStores(admin));
  } finally {
    await admin.close();
  }
}
