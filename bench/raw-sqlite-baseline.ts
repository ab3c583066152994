// The floor to compare against: raw better-sqlite3 doing the same SQL work as the store, no framework.
// (The one place outside src/sqlite that imports the driver: a benchmark baseline, not library code.)
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
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

/** A bare-driver NDJSON export: every row in position order, one JSON line each, streamed to `path`. */
export async function rawExportNdjson(dbPath: string, path: string): Promise<number> {
  const db = new Database(dbPath, { readonly: true });
  const out = createWriteStream(path);
  let count = 0;
  try {
    for (const row of db.prepare('SELECT * FROM events ORDER BY position').iterate()) {
      if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
      count++;
    }
  } finally {
    db.close();
    out.end();
    await once(out, 'close');
  }
  return count;
}

/** A bare-driver NDJSON import: each line parsed and inserted, 500 rows a transaction, into a fresh file. */
export async function rawImportNdjson(path: string, dbPath: string): Promise<number> {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  let insert: Database.Statement | undefined;
  let batch: Record<string, unknown>[] = [];
  const flush = db.transaction((rows: Record<string, unknown>[]) => {
    for (const row of rows) insert!.run(row);
  });
  let count = 0;
  try {
    for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })) {
      const row = JSON.parse(line) as Record<string, unknown>;
      if (!insert) {
        const columns = Object.keys(row);
        db.exec(`CREATE TABLE events (${columns.map((c) => `"${c}"`).join(', ')})`);
        insert = db.prepare(`INSERT INTO events VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
      }
      batch.push(row);
      count++;
      if (batch.length === 500) {
        flush(batch);
        batch = [];
      }
    }
    if (batch.length > 0) flush(batch);
  } finally {
    db.close();
  }
  return count;
}
