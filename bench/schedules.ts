// Due schedules fired per second on SQLite (event store and read store files, synchronous=full): 5,000 schedules
// (1,250 with --quick) become due at once, each firing a command whose handler appends one event; timed from "the
// clock passes their time, the scheduler's table holds them all" to "every command's effect and every firing is
// written and the table is empty". Beside it, in the same run, a bare better-sqlite3 floor doing the same reads and
// writes in transactions of one round (500) each. Run: node --conditions=chronicle-source --import tsx bench/schedules.ts
// (The other place outside src/sqlite importing the driver: a benchmark baseline, not library code.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createCommandBus, createCommandHandler, createProjector, createWorkflows, defineCommand } from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { z } from 'zod';
import { type BenchResult, printTable, report, scaled, versus } from './harness.js';

const SCHEDULES = scaled(5000);
const ROUND = 500;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-schedules-'));

const Ship = defineCommand('Ship', z.object({ orderId: z.string() }));

function line(name: string, seconds: number, cpuSeconds: number, note: string, baseline?: BenchResult): BenchResult {
  const rate = Math.round(SCHEDULES / seconds);
  return {
    name,
    rate,
    unit: 'ops/s',
    ops: SCHEDULES,
    // Per firing: the command's effect and the firing's record.
    events: SCHEDULES * 2,
    seconds: +seconds.toFixed(3),
    p50Ms: 0,
    p99Ms: 0,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    cpuSeconds: +cpuSeconds.toFixed(3),
    sync: 'full',
    ...versus(baseline, rate),
    note,
  };
}

async function chronicle(baseline: BenchResult): Promise<BenchResult> {
  let now = T0;
  const eventStore = createSqliteEventStore({ path: join(dir, 'events.db') });
  const readStore = createSqliteReadStore({ path: join(dir, 'read.db') });
  const commandBus = createCommandBus().register(
    Ship,
    createCommandHandler({
      store: eventStore,
      streamId: (c: { type: 'Ship'; data: { orderId: string } }) => `order-${c.data.orderId}`,
      decider: { initialState: null, decide: (c) => [{ type: 'Shipped', data: { orderId: c.data.orderId } }], evolve: (s) => s },
    }),
  );
  const workflows = createWorkflows({ commandBus, eventStore, readStore, clock: () => now, scheduler: { batchSize: ROUND } });
  const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 10 });
  await projector.start();
  // Off the clock: the schedules written and in the scheduler's table, none due yet.
  for (let i = 0; i < SCHEDULES; i += ROUND) {
    await Promise.all(
      Array.from({ length: Math.min(ROUND, SCHEDULES - i) }, (_, k) =>
        workflows.schedule(Ship, { orderId: `o${i + k}` }, { key: `ship-o${i + k}`, at: T0 + 1000 }),
      ),
    );
  }
  await projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 60_000 });
  if ((await workflows.status()).schedules.pending !== SCHEDULES) throw new Error('the table does not hold every schedule');

  const cpu = process.cpuUsage();
  const started = performance.now();
  now = T0 + 1000;
  // Rounds of up to ROUND firings in flight, one after another. The fire loop may fire some itself (it polls): its
  // firings are not in fireDue's count, so the end is the table emptied, not a sum of counts.
  for (;;) {
    if ((await workflows.fireDue()) > 0) continue;
    await projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 60_000 });
    if ((await workflows.status()).schedules.pending === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const { pending } = (await workflows.status()).schedules;
  const effects = (await eventStore.readAll({ filter: { categories: ['order'] }, limit: SCHEDULES * 2 })).length;
  await projector.stop();
  await Promise.all([eventStore.close(), readStore.close()]);
  if (pending !== 0 || effects !== SCHEDULES) throw new Error(`${effects} effects, ${pending} left pending`);
  return report(
    line(
      'schedules-fired-sqlite',
      seconds,
      (user + system) / 1e6,
      `${SCHEDULES} due at once, rounds of ${ROUND}: confirm, send (one event), record the firing, table emptied; ` +
        `${effects} effects, ${pending} pending`,
      baseline,
    ),
  );
}

// The same work on the bare driver: per round, read the due rows; per firing, read the schedule stream's last event
// and the target stream's version, insert the effect and its idempotency key, insert the firing; then delete the
// round's rows from the read file. One transaction per round on each file.
function bare(): BenchResult {
  const events = new Database(join(dir, 'bare-events.db'));
  const read = new Database(join(dir, 'bare-read.db'));
  for (const db of [events, read]) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  events.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
      type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, version));
    CREATE TABLE idempotency (key TEXT PRIMARY KEY, result TEXT NOT NULL) WITHOUT ROWID;`);
  read.exec(`CREATE TABLE schedules (schedule_key TEXT PRIMARY KEY, version INTEGER NOT NULL, due_ms INTEGER NOT NULL,
      command TEXT NOT NULL); CREATE INDEX schedules_by_due ON schedules (due_ms, schedule_key);`);
  const insert = events.prepare('INSERT INTO events (stream_id, version, type, data, metadata) VALUES (?, ?, ?, ?, ?)');
  const putRow = read.prepare('INSERT INTO schedules (schedule_key, version, due_ms, command) VALUES (?, 1, ?, ?)');
  const meta = JSON.stringify({ schemaVersion: 1, timestamp: new Date(T0).toISOString() });
  events.transaction(() => {
    for (let i = 0; i < SCHEDULES; i++) {
      const command = JSON.stringify({ type: 'Ship', data: { orderId: `o${i}` } });
      insert.run(
        `chronicle.schedule-ship-o${i}`,
        1,
        'chronicle.CommandScheduled',
        JSON.stringify({ key: `ship-o${i}`, command }),
        meta,
      );
    }
  })();
  read.transaction(() => {
    for (let i = 0; i < SCHEDULES; i++)
      putRow.run(`ship-o${i}`, T0 + 1000, JSON.stringify({ type: 'Ship', data: { orderId: `o${i}` } }));
  })();

  const due = read.prepare('SELECT schedule_key, version FROM schedules WHERE due_ms <= ? ORDER BY due_ms, schedule_key LIMIT ?');
  const last = events.prepare('SELECT version, type, data FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1');
  const version = events.prepare('SELECT max(version) FROM events WHERE stream_id = ?').pluck();
  const key = events.prepare('INSERT INTO idempotency (key, result) VALUES (?, ?)');
  const remove = read.prepare('DELETE FROM schedules WHERE schedule_key = ? AND version = ?');
  const fire = events.transaction((rows: { schedule_key: string; version: number }[]) => {
    for (const row of rows) {
      const scheduled = last.get(`chronicle.schedule-${row.schedule_key}`) as { version: number; type: string; data: string };
      const { command } = JSON.parse(scheduled.data) as { command: string };
      const { data } = JSON.parse(command) as { data: { orderId: string } };
      const stream = `order-${data.orderId}`;
      const v = ((version.get(stream) as number | null) ?? 0) + 1;
      insert.run(stream, v, 'Shipped', JSON.stringify({ orderId: data.orderId }), meta);
      key.run(`Ship:chronicle.schedule:${row.schedule_key}:${row.version}`, JSON.stringify([{ streamId: stream, version: v }]));
      insert.run(
        `chronicle.schedule-${row.schedule_key}`,
        scheduled.version + 1,
        'chronicle.ScheduleFired',
        JSON.stringify({ key: row.schedule_key, scheduled: row.version, outcome: 'done' }),
        meta,
      );
    }
  });
  const project = read.transaction((rows: { schedule_key: string; version: number }[]) => {
    for (const row of rows) remove.run(row.schedule_key, row.version);
  });

  const cpu = process.cpuUsage();
  const started = performance.now();
  for (;;) {
    const rows = due.all(T0 + 1000, ROUND) as { schedule_key: string; version: number }[];
    if (rows.length === 0) break;
    fire(rows);
    project(rows);
  }
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  events.close();
  read.close();
  return report(
    line(
      'raw-better-sqlite3:schedules-fired',
      seconds,
      (user + system) / 1e6,
      `baseline, bare driver: the same reads and writes, one transaction per round of ${ROUND} on each file`,
    ),
  );
}

try {
  const baseline = bare();
  await chronicle(baseline);
  printTable();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
