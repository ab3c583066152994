// The floor to compare the PostgreSQL store against: bare node-postgres doing the work of each workload the way a
// simple event store would, with the same payloads, the same connection count and the same callers in flight.
// The table is what such a store keeps: a global position from an identity column, the stream id and version
// (unique together, which is the whole optimistic-concurrency check: a second writer of a version fails), the
// event id, type, and data and metadata as json (what Chronicle's store uses: stored as text, so reading costs no
// conversion). No id index, no category index, no transaction ids: only what the SQL of a simple store needs, so the
// ratio is the price of everything Chronicle adds (checked versions, unique ids, idempotency, gap-free reads). Rows
// are read as arrays, as Chronicle's store reads them, so the floor is not lowered by building keyed objects.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type BenchResult, cpuOfAll, measure, warmUp } from './harness.js';
import { type Payload, payload } from './payload.js';
import type { Admin } from './pg-server.js';

/** What an append workload does: op `i` writes `batch` events to one stream, at the version `appendTarget` says. */
export type AppendSpec = {
  name: string;
  ops: number;
  concurrency: number;
  /** Events per append. */
  batch: number;
  /** Appends go round-robin over this many streams (each op knowing its stream's version); default a new stream each. */
  streams?: number;
  /** Connections in the pool (the Chronicle store gets the same `poolSize`). */
  connections: number;
  target?: number;
};

/** The stream op `i` appends to and the version it expects there (0 = new stream). */
export function appendTarget(spec: AppendSpec, i: number): { streamId: string; expected: number } {
  if (spec.streams === undefined) return { streamId: `order-${i}`, expected: 0 };
  // With fewer callers in flight than streams, op i + streams starts only after op i resolved: the version is known.
  return { streamId: `order-${i % spec.streams}`, expected: Math.floor(i / spec.streams) * spec.batch };
}

type Bare = { pool: pg.Pool; url: string; table: (name: string) => string; close(): Promise<void> };

async function openBare(admin: Admin, role: string, connections: number): Promise<Bare> {
  const schema = admin.freshSchema(role);
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.query(`CREATE TABLE "${schema}".events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL,
    version integer NOT NULL,
    id uuid NOT NULL,
    type text NOT NULL,
    data json NOT NULL,
    metadata json NOT NULL,
    UNIQUE (stream_id, version))`);
  const url = admin.url(role);
  const pool = new pg.Pool({ connectionString: url, max: connections, options: `-c search_path="${schema}"` });
  pool.on('error', () => {});
  return { pool, url, table: (name) => `"${schema}".${name}`, close: () => pool.end() };
}

// One INSERT of `rows` events into one stream: stream id and type once, then version, id, data, metadata per row.
function insertStatement(rows: number): pg.QueryConfig {
  const values = Array.from({ length: rows }, (_, r) => `($1, $${4 * r + 3}, $${4 * r + 4}, $2, $${4 * r + 5}, $${4 * r + 6})`);
  return {
    name: `bare-insert-${rows}`,
    text: `INSERT INTO events (stream_id, version, id, type, data, metadata) VALUES ${values.join(', ')}`,
  };
}

function insertValues(streamId: string, expected: number, payloads: readonly Payload[]): unknown[] {
  // One timestamp per append, as a store stamps a batch.
  const metadata = { schemaVersion: 1, timestamp: new Date().toISOString() };
  const values: unknown[] = [streamId, 'OrderPlaced'];
  payloads.forEach((data, k) => {
    values.push(expected + k + 1, randomUUID(), JSON.stringify(data), JSON.stringify(metadata));
  });
  return values;
}

const insert = (db: pg.Pool | pg.PoolClient, streamId: string, expected: number, payloads: readonly Payload[]) =>
  db.query({ ...insertStatement(payloads.length), values: insertValues(streamId, expected, payloads) });

/** Appends as the spec says, each append one INSERT in its own (implicit) transaction. */
export async function bareAppends(admin: Admin, spec: AppendSpec): Promise<BenchResult> {
  const bare = await openBare(admin, 'bare_append', spec.connections);
  try {
    // Same payload objects as the Chronicle side: one per op for single events, one shared batch otherwise.
    const batch = Array.from({ length: spec.batch }, (_, i) => payload(i));
    await warmUp(spec.concurrency, (k) => insert(bare.pool, `warm-${k}`, 0, batch));
    return await measure(
      `${spec.name}-bare-pg`,
      {
        ops: spec.ops,
        concurrency: spec.concurrency,
        eventsPerOp: spec.batch,
        sync: 'synchronous_commit=on',
        serverCpu: admin.backendCpu(bare.url),
        note: `bare pg: one ${spec.batch === 1 ? 'INSERT' : `${spec.batch}-row INSERT`} per append (unique (stream_id, version) checks it), ${spec.connections} connection(s)`,
      },
      (i) => {
        const { streamId, expected } = appendTarget(spec, i);
        return insert(bare.pool, streamId, expected, spec.batch === 1 ? [payload(i)] : batch);
      },
    );
  } finally {
    await bare.close();
  }
}

const SELECT_EVENT = 'SELECT position, stream_id, version, id, type, data, metadata FROM events';

/** Reads a 1,000-event stream and folds it (pg parses the jsonb columns), over one connection. */
export async function bareRehydrate(admin: Admin, name: string, reads: number): Promise<BenchResult> {
  const bare = await openBare(admin, 'bare_read', 1);
  try {
    for (let b = 0; b < 10; b++) {
      await insert(
        bare.pool,
        'order-big',
        b * 100,
        Array.from({ length: 100 }, (_, i) => payload(b * 100 + i)),
      );
    }
    const read = async () => {
      const { rows } = await bare.pool.query({
        name: 'bare-read-stream',
        text: `${SELECT_EVENT} WHERE stream_id = $1 ORDER BY version`,
        values: ['order-big'],
        rowMode: 'array',
      });
      let state = 0;
      for (const _ of rows) state += 1;
      if (state !== 1000) throw new Error(`folded ${state} events`);
    };
    await warmUp(1, read);
    return await measure(
      `${name}-bare-pg`,
      {
        ops: reads,
        concurrency: 1,
        eventsPerOp: 1000,
        sync: 'synchronous_commit=on',
        serverCpu: admin.backendCpu(bare.url),
        note: 'bare pg: SELECT the stream ordered by version, json parsed by pg, fold',
      },
      read,
    );
  } finally {
    await bare.close();
  }
}

/** The log a catch-up reads: 100 events in each of `total / 100` streams, written ten streams per transaction. */
async function writeLog(bare: Bare, total: number): Promise<void> {
  const events = Array.from({ length: 100 }, (_, i) => payload(i));
  const client = await bare.pool.connect();
  try {
    for (let b = 0; b < total / 1000; b++) {
      await client.query('BEGIN');
      for (let s = 0; s < 10; s++) await insert(client, `order-${b}-${s}`, 0, events);
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

/** What the read model holds after a catch-up, to prove no event was lost or applied twice. */
export type Projected = { streams: number; events: number; minEvents: number; maxEvents: number; positionSum: string };
/** What the log holds: its events and the sum of their positions. */
export type LogTotals = { events: number; positionSum: string };

/** The columns of the read model (one row per stream), the same on the Chronicle and the bare side. */
export const ORDERS_COLUMNS =
  'stream_id TEXT PRIMARY KEY, lines INTEGER NOT NULL, events INTEGER NOT NULL, position_sum BIGINT NOT NULL, position BIGINT NOT NULL';
/** SELECT over the read model (table name appended) giving `Projected`. */
export const PROJECTED_SQL =
  'SELECT count(*) AS streams, sum(events) AS events, min(events) AS "minEvents", max(events) AS "maxEvents", ' +
  'CAST(sum(position_sum) AS TEXT) AS "positionSum" FROM ';

/**
 * Throws unless every event of the log was applied exactly once: every stream's row counted its 100 events, and the
 * positions summed over the applies equal the log's (a lost event and a duplicated one would also have to have the
 * same position to cancel out). Returns the note for the line.
 */
export function checkProjected(name: string, found: Projected, log: LogTotals, perStream: number): string {
  const streams = log.events / perStream;
  const ok =
    Number(found.streams) === streams &&
    Number(found.events) === log.events &&
    Number(found.minEvents) === perStream &&
    Number(found.maxEvents) === perStream &&
    String(found.positionSum) === String(log.positionSum);
  if (!ok) {
    throw new Error(`${name}: events lost or duplicated: read model ${JSON.stringify(found)}, log ${JSON.stringify(log)}`);
  }
  return `verified: ${log.events} events in ${streams} streams, each applied once`;
}

const UPSERT = `INSERT INTO orders (stream_id, lines, events, position_sum, position) VALUES ($1, $2, 1, $3, $3)
  ON CONFLICT (stream_id) DO UPDATE SET lines = orders.lines + excluded.lines, events = orders.events + 1,
  position_sum = orders.position_sum + excluded.position_sum, position = excluded.position`;
const UPSERT_MANY = `INSERT INTO orders (stream_id, lines, events, position_sum, position)
  SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::bigint[])
  ON CONFLICT (stream_id) DO UPDATE SET lines = orders.lines + excluded.lines, events = orders.events + excluded.events,
  position_sum = orders.position_sum + excluded.position_sum, position = excluded.position`;

// SELECT_EVENT's columns, as an array row.
type Row = [position: string, streamId: string, version: number, id: string, type: string, data: Payload, metadata: unknown];
type Apply = (rm: pg.PoolClient, rows: readonly Row[]) => Promise<void>;

// Each event its own upsert, as a projection handler issues it: one round trip per event.
const applyEach: Apply = async (rm, rows) => {
  for (const row of rows) {
    await rm.query({ name: 'bare-upsert', text: UPSERT, values: [row[1], row[5].lines.length, row[0]] });
  }
};

// The page folded per stream in memory, then one upsert of every stream it touched: what a hand-written batch does.
const applyBatched: Apply = async (rm, rows) => {
  const byStream = new Map<string, { lines: number; events: number; positionSum: number; position: string }>();
  for (const row of rows) {
    const [position, streamId, , , , data] = row;
    const s = byStream.get(streamId) ?? { lines: 0, events: 0, positionSum: 0, position };
    s.lines += data.lines.length;
    s.events += 1;
    s.positionSum += Number(position);
    s.position = position;
    byStream.set(streamId, s);
  }
  const streams = [...byStream.values()];
  await rm.query({
    name: 'bare-upsert-many',
    text: UPSERT_MANY,
    values: [
      [...byStream.keys()],
      streams.map((s) => s.lines),
      streams.map((s) => s.events),
      streams.map((s) => s.positionSum),
      streams.map((s) => s.position),
    ],
  });
};

/**
 * Projection catch-up on bare pg over a log of `total` events: pages of 1,000 read by position on one connection, and
 * (unless read-only) each page applied and its checkpoint compare-and-set in one transaction on a second connection,
 * as the log and the read store may be different databases. Three lines: the log read alone (the baseline the
 * Chronicle line's ratio is taken against), the same statements Chronicle's projection runs (one upsert per event),
 * and a hand-batched upsert per page.
 */
export async function bareCatchUp(admin: Admin, name: string, total: number): Promise<BenchResult> {
  const log = await openBare(admin, 'bare_log', 1);
  const rmSchema = admin.freshSchema('bare_rm');
  await admin.query(`CREATE SCHEMA "${rmSchema}"`);
  const rmUrl = admin.url('bare_rm');
  const readModel = new pg.Pool({ connectionString: rmUrl, max: 1, options: `-c search_path="${rmSchema}"` });
  readModel.on('error', () => {});
  try {
    await writeLog(log, total);
    // The first `events` of the log: whole streams, as the log holds each stream's 100 events together.
    const totals = async (events: number) =>
      (
        await log.pool.query<LogTotals>(
          `SELECT count(*)::int AS events, CAST(sum(position) AS TEXT) AS "positionSum"
           FROM (SELECT position FROM events ORDER BY position LIMIT $1) AS head`,
          [events],
        )
      ).rows[0];
    const pass = async (suffix: string, apply: Apply | undefined, note: string, events = total) => {
      if (apply) {
        await readModel.query(`DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS checkpoints;
          CREATE TABLE orders (${ORDERS_COLUMNS});
          CREATE TABLE checkpoints (name text PRIMARY KEY, position bigint NOT NULL);
          INSERT INTO checkpoints VALUES ('orders', 0)`);
      }
      const expected = await totals(events);
      const reader = await log.pool.connect();
      const rm = await readModel.connect();
      const cpu = admin.backendCpu(log.url);
      const rmCpu = admin.backendCpu(rmUrl);
      let read = 0;
      try {
        return await measure(
          `${name}-bare-pg${suffix}`,
          {
            ops: 1,
            concurrency: 1,
            eventsPerOp: events,
            sync: 'synchronous_commit=on',
            serverCpu: cpuOfAll(cpu, rmCpu),
            note,
            check: async () => {
              if (read !== events) throw new Error(`${name}: read ${read} of ${events} events`);
              if (!apply) return `read ${read} events`;
              const { rows } = await rm.query<Projected>(`${PROJECTED_SQL}orders`);
              return checkProjected(`${name}-bare-pg${suffix}`, rows[0], expected, 100);
            },
          },
          async () => {
            let after = '0';
            while (read < events) {
              const { rows } = await reader.query<Row>({
                name: 'bare-read-all',
                text: `${SELECT_EVENT} WHERE position > $1 ORDER BY position LIMIT $2`,
                values: [after, Math.min(1000, events - read)],
                rowMode: 'array',
              });
              if (rows.length === 0) break;
              const last = rows[rows.length - 1][0];
              read += rows.length;
              if (apply) {
                await rm.query('BEGIN');
                await apply(rm, rows);
                const moved = await rm.query({
                  name: 'bare-checkpoint',
                  text: 'UPDATE checkpoints SET position = $1 WHERE name = $2 AND position = $3',
                  values: [last, 'orders', after],
                });
                if (moved.rowCount !== 1) throw new Error('checkpoint moved under the bare projector');
                await rm.query('COMMIT');
              }
              after = last;
            }
          },
        );
      } finally {
        reader.release();
        rm.release();
      }
    };
    const readOnly = await pass('', undefined, 'bare pg: the log read in pages of 1,000 by position, json parsed; no apply');
    // A round trip per event is slow enough that a fifth of the log tells its rate.
    await pass(
      '-apply-each',
      applyEach,
      'bare pg: read, then per page one transaction of one upsert per event + checkpoint (over the first fifth of the log)',
      Math.floor(total / 500) * 100,
    );
    await pass(
      '-apply-batched',
      applyBatched,
      'bare pg: read, then per page one transaction of one multi-row upsert + checkpoint',
    );
    return readOnly;
  } finally {
    await readModel.end();
    await log.close();
  }
}
