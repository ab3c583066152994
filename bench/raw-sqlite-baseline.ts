// The floor to compare against: raw better-sqlite3 doing the same SQL work as the store, no framework.
// (The one place outside src/sqlite that imports the driver: a benchmark baseline, not library code.)
import Database from 'better-sqlite3';
import { report } from './harness.js';

type Helpers = { n: (count: number) => number; payload: (i: number) => unknown };

function open(path: string, sync: 'FULL' | 'NORMAL') {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (stream_id, version))`);
  return db;
}

function timed(name: string, sync: string, events: number, note: string, run: () => void) {
  const started = performance.now();
  run();
  const seconds = (performance.now() - started) / 1000;
  report({
    name: `raw-better-sqlite3:${name}`,
    rate: Math.round(events / seconds),
    unit: 'events/s',
    ops: events,
    events,
    seconds: +seconds.toFixed(3),
    p50Ms: 0,
    p99Ms: 0,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    sync,
    note: `baseline, bare driver: ${note}`,
  });
}

/** Same workloads as the store's, on the bare driver: one transaction (version check + insert) per append. */
export function runRawBaselines(file: (name: string) => string, { n, payload }: Helpers): void {
  for (const sync of ['FULL', 'NORMAL'] as const) {
    const db = open(file(`raw-${sync}`), sync);
    const version = db.prepare('SELECT max(version) FROM events WHERE stream_id = ?').pluck();
    const insert = db.prepare('INSERT INTO events (stream_id, version, type, data) VALUES (?, ?, ?, ?)');
    const append = db.transaction((stream: string, data: string) => {
      const v = (version.get(stream) as number | null) ?? 0;
      insert.run(stream, v + 1, 'OrderPlaced', data);
    });
    const count = n(sync === 'FULL' ? 8_000 : 30_000);
    timed('append-1-event', sync.toLowerCase(), count, 'one transaction (version check + insert) per append', () => {
      for (let i = 0; i < count; i++) append(`order-${i}`, JSON.stringify(payload(i)));
    });
    db.close();
  }
  const db = open(file('raw-batch'), 'FULL');
  const insert = db.prepare('INSERT INTO events (stream_id, version, type, data) VALUES (?, ?, ?, ?)');
  const batch = db.transaction((stream: string) => {
    for (let v = 1; v <= 100; v++) insert.run(stream, v, 'OrderPlaced', JSON.stringify(payload(v)));
  });
  const batches = n(2_000);
  timed('append-100-events', 'full', batches * 100, 'one transaction per 100 inserts', () => {
    for (let b = 0; b < batches; b++) batch(`order-${b}`);
  });
  const read = db
    .prepare('SELECT position, stream_id, version, type, data FROM events WHERE stream_id = ? ORDER BY version')
    .raw();
  db.transaction(() => {
    for (let v = 1; v <= 1000; v++) insert.run('big', v, 'OrderPlaced', JSON.stringify(payload(v)));
  })();
  const reads = n(400);
  timed('read-and-parse-1000-event-stream', 'full', reads * 1000, 'select a stream and JSON.parse each row', () => {
    for (let r = 0; r < reads; r++) for (const row of read.all('big') as unknown[][]) JSON.parse(row[4] as string);
  });
  db.close();
}
