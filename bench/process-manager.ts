// `node --conditions=chronicle-source --import tsx bench/process-manager.ts [--quick]`: a process manager reacting to
// 50,000 events on SQLite (an event store file and a read store file), each event sending one command whose handler
// appends one event, timed end to end from "the events are in the log" to "every effect is written and the process's
// checkpoint is at the head". Beside it, in the same run, bare better-sqlite3 doing the equivalent work on two files of
// its own: read the log in pages, and per triggering event look its idempotency key and stream version up, insert the
// effect event and its key (one transaction per page: the floor group commit aims at), then read and upsert the
// process's state row and move the checkpoint (one read-store transaction per page). Two lines: the command handled by
// a decider's command handler, and by a handler that appends its event directly. Target ≥ 10,000 events/s.
// (Benchmark tooling, not library code: better-sqlite3 is imported here beside src/.)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  command,
  createCommandBus,
  createCommandHandler,
  createProjector,
  createWorkflows,
  type Decider,
  defineCommand,
  defineProcessManager,
} from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { z } from 'zod';
import { type BenchResult, cpuVersus, printTable, report, scaled, versus } from './harness.js';

const TRIGGERS = scaled(50_000);
const PAGE = 1000;
const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-pm-'));
let files = 0;
const file = (name: string) => join(dir, `${++files}-${name}.db`);

const ReserveStock = defineCommand('ReserveStock', z.object({ orderId: z.string(), quantity: z.number().int() }));
type Reserve = { type: 'ReserveStock'; data: { orderId: string; quantity: number } };
type Reserved = { type: 'StockReserved'; data: { orderId: string; quantity: number } };
const stock: Decider<Reserve, Reserved, null> = {
  initialState: null,
  decide: (c) => [{ type: 'StockReserved', data: c.data }],
  evolve: (s) => s,
};
const placed = (i: number) => ({ orderId: `order-${i.toString().padStart(8, '0')}`, quantity: 1 + (i % 5) });

// The triggering events, in pages of 1,000 streams, one event each (every process instance its own key).
async function seed(path: string): Promise<void> {
  const store = createSqliteEventStore({ path });
  for (let from = 0; from < TRIGGERS; from += PAGE) {
    const n = Math.min(PAGE, TRIGGERS - from);
    await store.appendMany(
      Array.from({ length: n }, (_, k) => ({
        streamId: `order-${from + k}`,
        events: [{ type: 'OrderPlaced', data: placed(from + k) }],
      })),
    );
  }
  await store.close();
}

function line(name: string, seconds: number, cpu: NodeJS.CpuUsage, note: string, extra: Partial<BenchResult> = {}): BenchResult {
  return {
    name,
    rate: Math.round(TRIGGERS / seconds),
    unit: 'events/s',
    ops: TRIGGERS,
    events: TRIGGERS,
    seconds: +seconds.toFixed(3),
    p50Ms: 0,
    p99Ms: 0,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(3),
    sync: 'full (events), normal (read store)',
    note,
    ...extra,
  };
}

// How the command's handler writes its one event: through a decider's command handler (load the stream, decide,
// append at the version read, as the Shop's handlers do), or by appending it directly under the command's key.
type HandlerKind = 'decider' | 'append';

async function chronicle(kind: HandlerKind, baseline: BenchResult | undefined): Promise<BenchResult> {
  const eventsPath = file(`pm-events-${kind}`);
  await seed(eventsPath);
  const eventStore = createSqliteEventStore({ path: eventsPath });
  const readStore = createSqliteReadStore({ path: file(`pm-read-${kind}`) });
  const bus = createCommandBus();
  const streamOf = (c: Reserve) => `stock-${c.data.orderId}`;
  if (kind === 'decider')
    bus.register(ReserveStock, createCommandHandler({ store: eventStore, decider: stock, streamId: streamOf }));
  else {
    bus.register(ReserveStock, async (c, { idempotencyKey, correlationId, causationId }) => {
      const streamId = streamOf(c);
      const event = { type: 'StockReserved', data: c.data, metadata: { correlationId, causationId } };
      const { version, position } = await eventStore.append(streamId, [event], {
        idempotencyKey: `ReserveStock:${idempotencyKey}`,
      });
      return { streamId, version, position };
    });
  }
  const pm = defineProcessManager<{ quantity: number }>({
    name: 'reserver',
    version: 1,
    handlers: {
      OrderPlaced: ({ data }) => {
        const order = data as ReturnType<typeof placed>;
        return { state: { quantity: order.quantity }, send: [command(ReserveStock, order)] };
      },
    },
  });
  const workflows = createWorkflows({ commandBus: bus, eventStore, readStore, processManagers: [pm], scheduler: false });
  const projector = createProjector({ eventStore, readStore, projections: workflows.projections });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await projector.start();
  await projector.waitForPosition(TRIGGERS, { timeoutMs: 600_000 });
  // The effects came after the triggers in the log: the checkpoint passes them too, to the head.
  const head = await eventStore.headPosition();
  await projector.waitForPosition(head, { timeoutMs: 600_000 });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await projector.stop();
  const effects = (await eventStore.readAll({ from: TRIGGERS + 1, filter: { types: ['StockReserved'] } })).length;
  const { groups, operations } = eventStore.stats();
  await readStore.close();
  await eventStore.close();
  if (effects !== TRIGGERS) throw new Error(`expected ${TRIGGERS} effects, found ${effects}`);
  const how =
    kind === 'decider'
      ? "a decider's command handler (stream loaded, decided, appended at its version)"
      : 'a handler appending its event directly under the key';
  const result = line(
    `process-manager-sqlite-${kind}-handler`,
    seconds,
    used,
    `one command per event through the bus and ${how}, idempotency key per command; ${effects} effects checked; ${operations} appends in ${groups} group commits`,
    { target: 10_000 },
  );
  return report({ ...result, ...versus(baseline, result.rate), ...(baseline && cpuVersus(baseline, result)) });
}

function bare(): BenchResult {
  const events = new Database(file('raw-events'));
  events.pragma('journal_mode = WAL');
  events.pragma('synchronous = FULL');
  events.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
      version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, version));
    CREATE TABLE idempotency (key TEXT PRIMARY KEY, result TEXT NOT NULL) WITHOUT ROWID;`);
  const insert = events.prepare('INSERT INTO events (id, stream_id, version, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
  const seedAll = events.transaction((from: number) => {
    for (let k = 0; k < PAGE && from + k < TRIGGERS; k++) {
      const i = from + k;
      insert.run(randomUUID(), `order-${i}`, 1, 'OrderPlaced', JSON.stringify(placed(i)), '{"schemaVersion":1}');
    }
  });
  for (let from = 0; from < TRIGGERS; from += PAGE) seedAll(from);
  const read = new Database(file('raw-read'));
  read.pragma('journal_mode = WAL');
  read.pragma('synchronous = NORMAL');
  read.exec(`CREATE TABLE state (id TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
    INSERT INTO checkpoint VALUES ('reserver', 0);`);

  const page = events.prepare('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?');
  const head = events.prepare('SELECT max(position) FROM events').pluck();
  const findKey = events.prepare('SELECT result FROM idempotency WHERE key = ?').pluck();
  const version = events.prepare('SELECT max(version) FROM events WHERE stream_id = ?').pluck();
  const storeKey = events.prepare('INSERT INTO idempotency (key, result) VALUES (?, ?)');
  type Row = { position: number; id: string; stream_id: string; type: string; data: string; metadata: string };
  const effects = events.transaction((rows: Row[]) => {
    for (const row of rows) {
      const key = `ReserveStock:reserver:${row.id}:0`;
      if (findKey.get(key) !== undefined) continue;
      const data = JSON.parse(row.data) as ReturnType<typeof placed>;
      const stream = `stock-${data.orderId}`;
      const next = ((version.get(stream) as number | null) ?? 0) + 1;
      const metadata = JSON.stringify({
        correlationId: row.id,
        causationId: row.id,
        schemaVersion: 1,
        timestamp: new Date().toISOString(),
      });
      const { lastInsertRowid } = insert.run(randomUUID(), stream, next, 'StockReserved', JSON.stringify(data), metadata);
      storeKey.run(key, JSON.stringify([{ streamId: stream, version: next, position: Number(lastInsertRowid) }]));
    }
  });
  const getState = read.prepare('SELECT data FROM state WHERE id = ?').pluck();
  const putState = read.prepare('INSERT INTO state (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data');
  const checkpoint = read.prepare("UPDATE checkpoint SET position = ? WHERE name = 'reserver'");
  const states = read.transaction((rows: Row[], to: number) => {
    for (const row of rows) {
      const before = getState.get(row.stream_id) as string | undefined;
      const quantity = (JSON.parse(row.data) as ReturnType<typeof placed>).quantity;
      putState.run(row.stream_id, JSON.stringify({ quantity, before: before === undefined ? 0 : 1 }));
    }
    checkpoint.run(to);
  });

  const cpu = process.cpuUsage();
  const started = performance.now();
  let at = 0;
  while (at < (head.get() as number)) {
    const rows = (page.all(at, PAGE) as Row[]).map((r) => ({ ...r, metadata: JSON.parse(r.metadata) }));
    const triggers = rows.filter((r) => r.type === 'OrderPlaced') as unknown as Row[];
    effects(triggers);
    const to = rows[rows.length - 1].position;
    states(triggers, to);
    at = to;
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const written = events.prepare("SELECT count(*) FROM events WHERE type = 'StockReserved'").pluck().get() as number;
  events.close();
  read.close();
  if (written !== TRIGGERS) throw new Error(`baseline wrote ${written} effects, not ${TRIGGERS}`);
  return report(
    line(
      'raw-better-sqlite3:process-manager',
      seconds,
      used,
      'baseline, bare driver: per page of 1,000 log rows, one event-store transaction (key lookup, version, insert event and key per trigger) and one read-store transaction (state read and upsert per trigger, checkpoint)',
    ),
  );
}

// `--no-baselines` runs the process manager alone (to profile it).
const withBaseline = !process.argv.includes('--no-baselines');
try {
  const baseline = withBaseline ? bare() : undefined;
  await chronicle('decider', baseline);
  await chronicle('append', baseline);
  printTable();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
