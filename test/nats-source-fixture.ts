// What the JetStream source tests share: fresh stream names, a stream filled the way the relay fills it (one message
// per event in position order, Nats-Msg-Id = event id, each publish expecting the previous id as the stream's last),
// and projections that count applications per event id and notice an event applied out of order.
import { randomUUID } from 'node:crypto';
import { type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { createInMemoryEventStore, defineProjection, type InMemoryReadTx, type RecordedEvent } from 'chronicle-es';
import { eventBody, eventHeaders, subjectOf } from 'chronicle-es/nats';
import type { SqliteReader, SqliteReadTx } from 'chronicle-es/sqlite';

/** A name nobody else on the shared server uses: `<tag>_<random>`, valid as a stream, durable and subject token. */
export function freshName(tag: string): string {
  return `${tag}_${randomUUID().slice(0, 8)}`;
}

/** A file-backed, limits-retention stream over `<prefix>.>` (what the relay creates). */
export async function createStream(jsm: JetStreamManager, name: string, prefix = name): Promise<void> {
  await jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: 120_000_000_000,
  });
}

/** Removes streams the tests made, ignoring ones already gone. */
export async function deleteStreams(jsm: JetStreamManager, names: Iterable<string>): Promise<void> {
  for (const name of names) await jsm.streams.delete(name).catch(() => {});
}

/**
 * Publishes `events` in order as the relay does; `after` is the id of the event published before them (if any).
 * Returns the last id. Publishes are pipelined (the server checks each expectation in order on one connection).
 */
export async function publishEvents(
  js: JetStreamClient,
  prefix: string,
  events: readonly RecordedEvent[],
  after?: string,
): Promise<string | undefined> {
  let last = after;
  const inFlight: Promise<unknown>[] = [];
  for (const e of events) {
    inFlight.push(
      js.publish(subjectOf(prefix, e), eventBody(e), {
        msgID: e.id,
        headers: eventHeaders(e),
        ...(last !== undefined && { expect: { lastMsgID: last } }),
      }),
    );
    last = e.id;
    if (inFlight.length >= 200) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  return last;
}

/**
 * `n` committed events from a real store: `Added` on accounts and (every `orderEvery`-th) `OrderPlaced` on orders,
 * so a filter on the order category has something to keep and something to drop.
 */
export async function makeEvents(n: number, options: { orderEvery?: number; from?: number } = {}): Promise<RecordedEvent[]> {
  const store = createInMemoryEventStore();
  const orderEvery = options.orderEvery ?? 0;
  const start = options.from ?? 0;
  for (let i = 0; i < start; i++) await store.append(`pad-${i}`, [{ type: 'Padding', data: {} }]);
  for (let i = 0; i < n; i++) {
    const isOrder = orderEvery > 0 && i % orderEvery === orderEvery - 1;
    await store.append(isOrder ? `order-${i}` : `acc-${i % 7}`, [
      isOrder ? { type: 'OrderPlaced', data: { amount: i } } : { type: 'Added', data: { amount: i } },
    ]);
  }
  const all = await store.readAll({ from: start + 1 });
  await store.close();
  return all;
}

/** Sum of the amounts in `events` of the given types. */
export const totalOf = (events: readonly RecordedEvent[], types = ['Added', 'OrderPlaced']) =>
  events.reduce((sum, e) => sum + (types.includes(e.type) ? (e.data as { amount: number }).amount : 0), 0);

/**
 * Counts, in memory, how often each event was applied and the positions in the order applied; `gate(event)` may
 * hold or fail an event.
 */
export function countingInMemory(
  name: string,
  options: { types?: readonly string[]; gate?: (e: RecordedEvent) => void | Promise<void>; version?: number } = {},
) {
  const types = options.types ?? ['Added', 'OrderPlaced'];
  const handler = async (event: RecordedEvent, tx: InMemoryReadTx) => {
    await options.gate?.(event);
    const applied = tx.table<number>('applied');
    applied.set(event.id, (applied.get(event.id) ?? 0) + 1);
    const order = tx.table<number[], string>('order');
    order.set('positions', [...(order.get('positions') ?? []), event.position]);
    const totals = tx.table<number>('totals');
    totals.set('sum', (totals.get('sum') ?? 0) + (event.data as { amount: number }).amount);
  };
  return defineProjection<InMemoryReadTx>({
    name,
    version: options.version ?? 1,
    handlers: Object.fromEntries(types.map((t) => [t, handler])),
  });
}

/**
 * The same in SQLite: `applied(event_id, position, times)` and `state(key, value)` holding the last position applied
 * and how many events came at or below it (out of order).
 */
export function countingSqlite(
  name: string,
  options: { types?: readonly string[]; gate?: (e: RecordedEvent) => void | Promise<void>; version?: number } = {},
) {
  const types = options.types ?? ['Added', 'OrderPlaced'];
  const handler = async (event: RecordedEvent, tx: SqliteReadTx) => {
    await options.gate?.(event);
    tx.run(
      `INSERT INTO ${tx.table('applied')} (event_id, position, times) VALUES (?, ?, 1)
       ON CONFLICT (event_id) DO UPDATE SET times = times + 1`,
      [event.id, event.position],
    );
    const last = tx.get<{ value: number }>(`SELECT value FROM ${tx.table('state')} WHERE key = 'last'`)?.value ?? 0;
    if (event.position <= last) tx.run(`UPDATE ${tx.table('state')} SET value = value + 1 WHERE key = 'disorder'`);
    tx.run(`UPDATE ${tx.table('state')} SET value = ? WHERE key = 'last'`, [event.position]);
    tx.run(`UPDATE ${tx.table('state')} SET value = value + ? WHERE key = 'sum'`, [(event.data as { amount: number }).amount]);
  };
  return defineProjection<SqliteReadTx>({
    name,
    version: options.version ?? 1,
    setup(tx) {
      tx.run(
        `CREATE TABLE ${tx.table('applied')} (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL, times INTEGER NOT NULL)`,
      );
      tx.run(`CREATE TABLE ${tx.table('state')} (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
      tx.run(`INSERT INTO ${tx.table('state')} (key, value) VALUES ('last', 0), ('disorder', 0), ('sum', 0)`);
    },
    handlers: Object.fromEntries(types.map((t) => [t, handler])),
  });
}

/** What a countingInMemory projection holds. */
export function inMemoryCounts(reader: { table<V>(name: string): ReadonlyMap<string, V> }) {
  const applied = reader.table<number>('applied');
  const positions = reader.table<number[]>('order').get('positions') ?? [];
  return {
    applied: applied.size,
    repeated: [...applied.values()].filter((n) => n !== 1).length,
    inOrder: positions.every((p, i) => i === 0 || p > positions[i - 1]),
    sum: reader.table<number>('totals').get('sum') ?? 0,
  };
}

/** What a countingSqlite projection holds. */
export function sqliteCounts(reader: SqliteReader) {
  const applied = reader.get<{ n: number; repeated: number }>(
    `SELECT count(*) AS n, coalesce(sum(times <> 1), 0) AS repeated FROM ${reader.table('applied')}`,
  )!;
  const state = Object.fromEntries(
    reader.all<{ key: string; value: number }>(`SELECT key, value FROM ${reader.table('state')}`).map((r) => [r.key, r.value]),
  );
  return { applied: applied.n, repeated: applied.repeated, disorder: state.disorder, last: state.last, sum: state.sum };
}

/** A gate a handler awaits: `hold(position)` stops at that event until `release()`; `reached` says it got there. */
export function holdAt(position: number) {
  let release!: () => void;
  let reachedResolve!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const reached = new Promise<void>((r) => {
    reachedResolve = r;
  });
  return {
    gate: async (e: RecordedEvent) => {
      if (e.position !== position) return;
      reachedResolve();
      await released;
    },
    reached,
    release: () => release(),
  };
}
