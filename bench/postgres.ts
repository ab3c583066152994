// `npm run bench -- --store postgres`: the PostgreSQL workloads of issue 7, each measured beside a bare-pg baseline
// doing the same work in the same run (bench/pg-baseline.ts), every store in a fresh schema dropped afterwards.
import { scaled, selected } from './harness.js';
import { type AppendSpec, bareAppends, bareCatchUp, bareRehydrate } from './pg-baseline.js';
import { openAdmin } from './pg-server.js';

const n = scaled;

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

export async function runPostgresBench(): Promise<void> {
  const admin = await openAdmin();
  try {
    for (const spec of APPENDS) if (selected(spec.name)) await bareAppends(admin, spec);
    if (selected('pg-rehydrate-1000-event-stream')) await bareRehydrate(admin, 'pg-rehydrate-1000-event-stream', n(400));
    if (selected('pg-projection-catch-up')) await bareCatchUp(admin, 'pg-projection-catch-up', n(100_000));
  } finally {
    await admin.close();
  }
}
