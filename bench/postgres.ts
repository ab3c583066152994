// `npm run bench -- --store postgres`: the PostgreSQL workloads of issue 7, each measured beside a bare-pg baseline
// doing the same work in the same run (bench/pg-baseline.ts, measured first), every store in a fresh schema dropped
// afterwards. Each Chronicle line carries `baseline` (the bare line's name) and `ratio` (its rate over the bare one).
import { fold } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { type BenchResult, measure, scaled, selected, warmUp } from './harness.js';
import { event } from './payload.js';
import { type AppendSpec, appendTarget, bareAppends, bareCatchUp, bareRehydrate } from './pg-baseline.js';
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
    if (selected(catchUp)) await bare(() => bareCatchUp(admin, catchUp, n(100_000)));
  } finally {
    await admin.close();
  }
}
