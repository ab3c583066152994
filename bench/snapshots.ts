// Loading one long stream in a command handler, with and without snapshots, at 1k, 10k and 100k events on SQLite,
// beside bare better-sqlite3 doing the same reads on the same file in the same run (the one place outside src/sqlite
// importing the driver, as in raw-sqlite-baseline.ts: a baseline, not library code). A "load" is a command whose
// decision writes nothing, so its time is the read and the fold. With snapshots (every 500 events) the stream was
// snapshotted 250 events before its end, the average tail. The last line checks that loads with snapshots stay flat:
// the 100k median within 2x of the 1k one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createCommandHandler, type EventStore } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { type BenchResult, percentile, quick, report, versus } from './harness.js';
import { event, type Payload } from './payload.js';

const SIZES = [1_000, 10_000, 100_000];
const EVERY = 500;
const TAIL = 250;
const STREAM = 'order-long';
// Loads timed per size with snapshots (they are quick); without, fewer the longer the stream.
const SNAPSHOT_LOADS = quick ? 200 : 1000;

type State = { events: number; quantity: number };
const initialState: State = { events: 0, quantity: 0 };
const evolve = (s: State, e: { data: unknown }): State => ({
  events: s.events + 1,
  quantity: s.quantity + (e.data as Payload).lines.reduce((q, l) => q + l.quantity, 0),
});
const decider = { initialState, evolve, decide: () => [] };
const loadCommand = { type: 'Look', data: {} };

// Times `loads` calls of `load` after two warm-up calls; latencies in ms.
async function timeLoads(loads: number, load: () => unknown): Promise<{ p50: number; p99: number; seconds: number }> {
  for (let i = 0; i < 2; i++) await load();
  const ms = new Float64Array(loads);
  const started = performance.now();
  for (let i = 0; i < loads; i++) {
    const t = performance.now();
    await load();
    ms[i] = performance.now() - t;
  }
  const seconds = (performance.now() - started) / 1000;
  ms.sort();
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), seconds };
}

function line(
  name: string,
  events: number,
  loads: number,
  t: { p50: number; p99: number; seconds: number },
  note: string,
  baseline?: BenchResult,
) {
  const rate = Math.round(loads / t.seconds);
  return report({
    name,
    rate,
    unit: 'ops/s',
    ops: loads,
    events,
    seconds: +t.seconds.toFixed(3),
    p50Ms: +t.p50.toFixed(3),
    p99Ms: +t.p99.toFixed(3),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    sync: 'full',
    ...versus(baseline, rate),
    note,
  });
}

async function seed(store: EventStore, from: number, to: number) {
  for (let i = from; i < to; i += 1000) {
    await store.append(
      STREAM,
      Array.from({ length: Math.min(1000, to - i) }, (_, k) => event(i + k)),
    );
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-snapshots-'));
  const flat: Record<number, number> = {};
  try {
    for (const size of SIZES) {
      const path = join(dir, `stream-${size}.db`);
      const store = createSqliteEventStore({ path });
      const loads = Math.max(quick ? 3 : 5, Math.round((quick ? 20_000 : 100_000) / size));
      // Snapshotted at size - TAIL, then TAIL more events: every load with snapshots reads the snapshot plus 250.
      await seed(store, 0, size - TAIL);
      const snapshotting = createCommandHandler({
        store,
        decider,
        streamId: () => STREAM,
        cacheSize: 0,
        snapshot: { every: EVERY, version: 1 },
      });
      await snapshotting(loadCommand, {});
      await new Promise((r) => setTimeout(r, 50));
      const snapshot = await store.snapshots?.loadSnapshot(STREAM, 'state', 1);
      if (snapshot?.streamVersion !== size - TAIL) throw new Error(`no snapshot at ${size - TAIL}: ${JSON.stringify(snapshot)}`);
      await seed(store, size - TAIL, size);

      const db = new Database(path, { readonly: true });
      const all = db.prepare('SELECT version, type, data FROM events WHERE stream_id = ? ORDER BY version').raw(true);
      const fromVersion = db
        .prepare('SELECT version, type, data FROM events WHERE stream_id = ? AND version > ? ORDER BY version')
        .raw(true);
      const snapshotRow = db
        .prepare('SELECT stream_version, state FROM snapshots WHERE stream_id = ? AND name = ? AND version = ?')
        .raw(true);
      const fold = (rows: unknown[][], state: State) => {
        let s = state;
        for (const row of rows) s = evolve(s, { data: JSON.parse(row[2] as string) });
        return s;
      };
      const expected = fold(all.all(STREAM) as unknown[][], initialState);

      const bareSnapshot = line(
        `raw-better-sqlite3:load-${size}-from-snapshot`,
        size,
        SNAPSHOT_LOADS,
        await timeLoads(SNAPSHOT_LOADS, () => {
          const [version, state] = snapshotRow.get(STREAM, 'state', 1) as [number, string];
          return fold(fromVersion.all(STREAM, version) as unknown[][], JSON.parse(state));
        }),
        `baseline, bare driver: the snapshot row, then the ${TAIL} events after it`,
      );

      let seen: State | undefined;
      const remember = (s: State): never[] => {
        seen = s;
        return [];
      };
      const withSnapshots = createCommandHandler({
        store,
        decider: { ...decider, decide: (_c: unknown, s: State) => remember(s) },
        streamId: () => STREAM,
        cacheSize: 0,
        snapshot: { every: EVERY, version: 1 },
      });
      const snap = line(
        `sqlite:load-${size}-with-snapshots`,
        size,
        SNAPSHOT_LOADS,
        await timeLoads(SNAPSHOT_LOADS, () => withSnapshots(loadCommand, {})),
        `command handler, no cache, snapshot every ${EVERY}: the snapshot plus ${TAIL} events`,
        bareSnapshot,
      );
      if (JSON.stringify(seen) !== JSON.stringify(expected)) throw new Error('the snapshot load folded another state');
      flat[size] = snap.p50Ms;
      seen = undefined;
      const bareFull = line(
        `raw-better-sqlite3:load-${size}`,
        size,
        loads,
        await timeLoads(loads, () => fold(all.all(STREAM) as unknown[][], initialState)),
        'baseline, bare driver: one SELECT of the whole stream, JSON.parse and fold each row',
      );
      const plain = createCommandHandler({
        store,
        decider: { ...decider, decide: (_c: unknown, s: State) => remember(s) },
        streamId: () => STREAM,
        cacheSize: 0,
      });
      line(
        `sqlite:load-${size}`,
        size,
        loads,
        await timeLoads(loads, () => plain(loadCommand, {})),
        'command handler, no cache, no snapshots: the whole stream read and folded',
        bareFull,
      );
      if (JSON.stringify(seen) !== JSON.stringify(expected)) throw new Error('the handler folded another state');
      db.close();
      await store.close();
    }
    const ratio = +(flat[100_000] / flat[1_000]).toFixed(2);
    process.stdout.write(
      `${JSON.stringify({ name: 'sqlite:snapshot-load-flatness', p50MsAt1k: flat[1_000], p50MsAt10k: flat[10_000], p50MsAt100k: flat[100_000], ratio, target: '<= 2', met: ratio <= 2 })}\n`,
    );
    if (ratio > 2) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
