// `npm run bench:nats [-- --quick] [--rounds N] [--only <name>] [--no-baselines|--only-baselines] [--nats-url <url>]
// [--duration S]`: the JetStream lines of issue 9, each beside bare-driver baselines doing the same work in the same
// run, measured in alternating rounds (harness.ts alternateSides; 3 rounds, 2 with --quick):
// - nats-relay-publish-{sqlite,pg}: the relay publishing 100k stored events from a SQLite (then a PostgreSQL) event
//   store into a fresh stream until the broker acknowledged the last, beside a bare js.publish with msgID of the same
//   subjects and bodies with the same window in flight, and a bare async publish (one inbox) of the same messages;
// - nats-consume-upsert-*: the JetStream source + projector applying a stream of 100k events (one upsert per event)
//   into a SQLite read store, beside a bare pull consumer fetching and acking them, the same consumer upserting with
//   better-sqlite3, and the projector fed from the SQLite log itself; nats-consume-shop-*: the same with the Shop's
//   projections over a Shop's log of ~100k events written through its command bus;
// - nats-read-node-redis-GetOrderStatus: the Shop's SHOP_ROLE=read node on Redis fed through JetStream, over HTTP
//   under autocannon, beside the SQLite read node fed the same way (bench/nats-read-node.ts).
// One JSON line per side, then a table. Each group runs in a process of its own with a private nats-server
// (bench/nats-server.ts).
// (Benchmark tooling, not library code: @nats-io/* and better-sqlite3 are imported here beside src/.)
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type PubAck,
} from '@nats-io/jetstream';
import { createInbox, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import Database from 'better-sqlite3';
import {
  createInMemoryReadStore,
  createProjector,
  defineProjection,
  type EventStore,
  type NewEvent,
  type Principal,
  type Projection,
  type Projector,
  type RecordedEvent,
  type RelayCheckpoint,
  type SqlReadTx,
  storeCheckpoint,
} from 'chronicle-es';
import {
  createJetStreamRelay,
  createJetStreamSource,
  eventBody,
  eventHeaders,
  type JetStreamRelay,
  type JetStreamSource,
  subjectOf,
} from 'chronicle-es/nats';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import {
  createSqliteCheckpoint,
  createSqliteEventStore,
  createSqliteReadStore,
  type SqliteCheckpoint,
  type SqliteReadStore,
} from 'chronicle-es/sqlite';
import { createShop } from '../examples/shop/app.js';
import { projections as shopProjections } from '../examples/shop/projections/index.js';
import { seedShop } from '../examples/shop/seed.js';
import {
  alternateSides,
  type ComparedSide,
  type CpuProbe,
  cpuOfAll,
  type MeasureOptions,
  printTable,
  quick,
  type Side,
  scaled,
  selected,
} from './harness.js';
import { inParallel } from './http-servers.js';
import { runReadNodeLine } from './nats-read-node.js';
import { type BenchNats, openBenchNats } from './nats-server.js';
import { type Payload, payload } from './payload.js';
import { type Admin, openAdmin } from './pg-server.js';

const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = roundsAt === -1 ? (quick ? 2 : 3) : Number(process.argv[roundsAt + 1]);
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds takes a positive integer');
/** Events in the log each relay round publishes (and each consumer round applies). */
const EVENTS = scaled(100_000);
/** The relay's defaults (batchSize and maxInFlight 1000), and the bare publisher's window. */
const IN_FLIGHT = 1000;
const RELAY_TARGET = 30_000;
const CONSUMER_TARGET = 20_000;
// To profile one side alone: `--no-baselines` runs only Chronicle's sides, `--only-baselines` only the bare ones.
const withBaselines = !process.argv.includes('--no-baselines');
const withSubjects = !process.argv.includes('--only-baselines');
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-nats-'));
let files = 0;
const file = (name: string) => join(dir, `${++files}-${name}.db`);
const decoder = new TextDecoder();
/** Whether a line of harness.ts's shape ran, for the closing table. */
let tabled = false;

// Orders of 10 events on streams of 10 categories, with correlation and causation ids as a command handler sets them:
// every header the relay writes is there, and the ~235-byte payload of the other benches.
const CATEGORIES = ['order', 'cart', 'payment', 'shipment', 'invoice', 'customer', 'product', 'stock', 'refund', 'review'];
function logEvent(k: number): NewEvent {
  return {
    type: k % 3 === 0 ? 'OrderPlaced' : k % 3 === 1 ? 'OrderPaid' : 'OrderShipped',
    data: payload(k),
    metadata: { correlationId: `corr-${Math.floor(k / 10)}`, causationId: `cmd-${k}` },
  };
}

/** Appends EVENTS events, 1,000 per appendMany (100 streams of 10), as a busy shop would have written them. */
async function fill(store: EventStore): Promise<void> {
  for (let from = 0; from < EVENTS; from += 1000) {
    const streams = Math.min(1000, EVENTS - from) / 10;
    await store.appendMany(
      Array.from({ length: streams }, (_, s) => {
        const first = from + s * 10;
        return {
          streamId: `${CATEGORIES[(first / 10) % CATEGORIES.length]}-${first / 10}`,
          events: Array.from({ length: 10 }, (_, i) => logEvent(first + i)),
        };
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Streams: one fresh JetStream stream per side and round, created before the clock starts, deleted after its check.

const streamOf = (side: string, round: number | string) => ({
  stream: `BENCH_${run}_${side}_${round}`,
  prefix: `bench_${run}_${side}_${round}`,
});

async function createStream(jsm: JetStreamManager, stream: string, prefix: string): Promise<void> {
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
}

/** What a round left in its stream, checked after the clock stopped; throws unless it holds `events` messages once. */
async function checkStream(jsm: JetStreamManager, stream: string, events: number): Promise<string> {
  const { state } = await jsm.streams.info(stream);
  await jsm.streams.delete(stream);
  if (state.messages !== events || state.first_seq !== 1 || state.last_seq !== events) {
    throw new Error(`stream ${stream} holds ${state.messages} messages (${state.first_seq}..${state.last_seq}), not ${events}`);
  }
  return `stream checked: ${events} messages, sequences 1..${events}`;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Relay publish

/** The events as the bare publishers send them: the relay's subjects (after the prefix), bodies and headers. */
type Prepared = { tails: string[]; bodies: Uint8Array[]; ids: string[]; headers: MsgHdrs[] };

async function prepare(store: EventStore): Promise<Prepared> {
  const prepared: Prepared = { tails: [], bodies: [], ids: [], headers: [] };
  for (let from = 1; prepared.ids.length < EVENTS; ) {
    const page = await store.readAll({ from, limit: 10_000 });
    if (page.length === 0) throw new Error(`the log holds ${prepared.ids.length} events, not ${EVENTS}`);
    for (const e of page) {
      prepared.tails.push(subjectOf('', e));
      prepared.bodies.push(eventBody(e));
      prepared.ids.push(e.id);
      prepared.headers.push(eventHeaders(e));
    }
    from = page[page.length - 1].position + 1;
  }
  return prepared;
}

/**
 * A bare side's shape: one op publishing every prepared event into the round's fresh stream. The events are prepared
 * before each round and dropped after it, so their ~100 MB of heap is not there to slow the collector in other sides'
 * rounds (a real relay holds one batch).
 */
function bareSide(
  name: string,
  label: string,
  jsm: JetStreamManager,
  store: EventStore,
  serverCpu: CpuProbe,
  note: string,
  publishAll: (prefix: string, prepared: Prepared) => Promise<void>,
): Side {
  let target = streamOf(label, 0);
  let prepared: Prepared | undefined;
  return {
    name,
    options: {
      ops: 1,
      concurrency: 1,
      eventsPerOp: EVENTS,
      sync: 'JetStream file store',
      serverCpu,
      note,
      check: () => {
        prepared = undefined;
        return checkStream(jsm, target.stream, EVENTS);
      },
    },
    async before(round) {
      target = streamOf(label, round);
      prepared = await prepare(store);
      await createStream(jsm, target.stream, target.prefix);
    },
    op: () => publishAll(target.prefix, prepared!),
  };
}

/**
 * The brief's baseline: `js.publish(subject, body, { msgID })` for every event, at most IN_FLIGHT acks awaited at once,
 * every ack checked to be a new message at the next sequence.
 */
function jsPublisher(name: string, nc: NatsConnection, jsm: JetStreamManager, store: EventStore, serverCpu: CpuProbe): Side {
  const js: JetStreamClient = jetstream(nc, { timeout: 30_000 });
  const note = `@nats-io/jetstream js.publish(subject, body, { msgID }) of the relay's subjects and bodies, pre-encoded, ${IN_FLIGHT} in flight; one header (Nats-Msg-Id)`;
  return bareSide(name, 'js', jsm, store, serverCpu, note, async (prefix, prepared) => {
    const window: Array<Promise<PubAck>> = new Array(IN_FLIGHT);
    const settle = async (i: number) => {
      const ack = await window[i % IN_FLIGHT];
      if (ack.duplicate || ack.seq !== i + 1) throw new Error(`publish ${i}: ack seq ${ack.seq}, duplicate ${ack.duplicate}`);
    };
    for (let i = 0; i < EVENTS; i++) {
      if (i >= IN_FLIGHT) await settle(i - IN_FLIGHT);
      window[i % IN_FLIGHT] = js.publish(prefix + prepared.tails[i], prepared.bodies[i], { msgID: prepared.ids[i] });
    }
    for (let i = Math.max(0, EVENTS - IN_FLIGHT); i < EVENTS; i++) await settle(i);
  });
}

/**
 * The floor of the relay's own transport: `nc.publish` of the relay's subjects, bodies and headers (pre-built) with
 * a reply subject on one inbox subscription, counting acks, IN_FLIGHT at most unanswered — JetStream's "async
 * publish", with no promise, timer or expectation per message.
 */
function inboxPublisher(name: string, nc: NatsConnection, jsm: JetStreamManager, store: EventStore, serverCpu: CpuProbe): Side {
  const note = `@nats-io/nats-core nc.publish(subject, body, { headers, reply }) of the relay's subjects, bodies and headers, pre-built, acks counted on one inbox subscription, ${IN_FLIGHT} in flight; no expected-last-id header`;
  return bareSide(name, 'inbox', jsm, store, serverCpu, note, async (prefix, prepared) => {
    const inbox = createInbox();
    let acked = 0;
    let lastSeq = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        const ack = err
          ? undefined
          : (JSON.parse(decoder.decode(msg.data)) as { seq?: number; duplicate?: boolean; error?: unknown });
        if (!ack || ack.error || ack.duplicate || typeof ack.seq !== 'number') {
          failure ??= new Error(`bad ack: ${err ?? decoder.decode(msg.data)}`);
        } else lastSeq = Math.max(lastSeq, ack.seq);
        acked++;
        wake?.();
      },
    });
    // Resolves once `limit` acks arrived; one interval for the whole run notices a stall (no timer per message).
    const room = (limit: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (failure || acked >= limit) {
            wake = undefined;
            if (failure) reject(failure);
            else resolve();
          }
        };
        wake = check;
        check();
      });
    let seen = -1;
    const stall = setInterval(() => {
      if (acked === seen) {
        failure ??= new Error(`no ack for 30 s after ${acked}`);
        wake?.();
      }
      seen = acked;
    }, 30_000);
    try {
      for (let i = 0; i < EVENTS; i++) {
        if (i - acked >= IN_FLIGHT) await room(i - IN_FLIGHT + 1);
        nc.publish(prefix + prepared.tails[i], prepared.bodies[i], { headers: prepared.headers[i], reply: `${inbox}.${i}` });
      }
      await room(EVENTS);
    } finally {
      clearInterval(stall);
      sub.unsubscribe();
    }
    if (lastSeq !== EVENTS) throw new Error(`last ack at sequence ${lastSeq}, not ${EVENTS}`);
  });
}

/** A checkpoint that also says when it was saved at `head`: the relay saves after the broker acked a whole batch. */
function watched(inner: RelayCheckpoint, head: number, reached: () => void): RelayCheckpoint {
  return {
    load: () => inner.load(),
    async save(position) {
      await inner.save(position);
      if (position >= head) reached();
    },
  };
}

type RelayFixture = {
  store: EventStore;
  /** A fresh checkpoint named `name`, where this kind of deployment would keep it. */
  checkpoint(name: string): RelayCheckpoint;
  serverCpu: CpuProbe;
  sync: string;
  note: string;
};

/** createJetStreamRelay with its defaults, from start() until the checkpoint says the broker acked the last event. */
function relayPublisher(name: string, nc: NatsConnection, jsm: JetStreamManager, fixture: RelayFixture): Side {
  let target = streamOf('relay', 0);
  let relay: JetStreamRelay | undefined;
  let reached: Promise<void> = Promise.resolve();
  return {
    name,
    options: {
      ops: 1,
      concurrency: 1,
      eventsPerOp: EVENTS,
      sync: fixture.sync,
      target: RELAY_TARGET,
      serverCpu: fixture.serverCpu,
      note: fixture.note,
      async check() {
        await relay!.stop();
        const status = await relay!.status();
        if (status.published !== EVENTS || status.lagEvents !== 0) {
          throw new Error(`relay published ${status.published} of ${EVENTS}, lag ${status.lagEvents}`);
        }
        return checkStream(jsm, target.stream, EVENTS);
      },
    },
    async before(round) {
      target = streamOf(`relay_${fixture.sync.split(' ')[0]}`, round);
      await createStream(jsm, target.stream, target.prefix);
      const head = await fixture.store.headPosition();
      let done!: () => void;
      reached = new Promise<void>((resolve) => {
        done = resolve;
      });
      relay = createJetStreamRelay({
        eventStore: fixture.store,
        nats: nc,
        stream: target.stream,
        subjectPrefix: target.prefix,
        checkpoint: watched(fixture.checkpoint(round < 0 ? 'relay_warm' : `relay_r${round}`), head, done),
        timeoutMs: 30_000,
      });
    },
    async op() {
      await relay!.start();
      await reached;
    },
  };
}

/** One round of each side off the record: JIT, the stores' caches and the broker's first stream all warmed. */
async function warm(sides: readonly Side[]): Promise<void> {
  for (const side of sides) {
    await side.before?.(-1);
    await side.op(0, -1);
    await side.options.check?.();
  }
}

/** The relay from a store beside both bare publishers, alternating; the brief's baseline (js.publish) first. */
async function relayLine(
  name: string,
  nc: NatsConnection,
  jsm: JetStreamManager,
  broker: BenchNats,
  fixture: RelayFixture,
): Promise<void> {
  await fill(fixture.store);
  const js = jsPublisher('nats-bare-js-publish-msgid', nc, jsm, fixture.store, broker.cpu());
  const inbox: ComparedSide = {
    ...inboxPublisher('nats-bare-async-publish-inbox', nc, jsm, fixture.store, broker.cpu()),
    versus: js.name,
  };
  const relay: ComparedSide = { ...relayPublisher(name, nc, jsm, fixture), versus: js.name, alsoVersus: [inbox.name] };
  const sides = [...(withBaselines ? [js, inbox] : []), ...(withSubjects ? [relay] : [])];
  await warm(sides);
  await alternateSides(ROUNDS, sides);
}

async function relayLines(broker: BenchNats, nc: NatsConnection, jsm: JetStreamManager, admin: () => Promise<Admin>) {
  const sqliteName = 'nats-relay-publish-sqlite';
  const pgName = 'nats-relay-publish-pg';
  if (selected(sqliteName)) {
    tabled = true;
    const path = file('relay-events');
    const store = createSqliteEventStore({ path });
    const checkpoints: SqliteCheckpoint[] = [];
    try {
      await relayLine(sqliteName, nc, jsm, broker, {
        store,
        checkpoint(name) {
          const checkpoint = createSqliteCheckpoint({ path, name });
          checkpoints.push(checkpoint);
          return checkpoint;
        },
        serverCpu: broker.cpu(),
        sync: 'sqlite event store, JetStream file store',
        note: `${EVENTS} stored events, defaults (batchSize ${IN_FLIGHT}, maxInFlight ${IN_FLIGHT}); checkpoint in the event store's file (createSqliteCheckpoint); serverCpu = nats-server`,
      });
    } finally {
      for (const checkpoint of checkpoints) await checkpoint.close();
      await store.close();
    }
  }
  if (selected(pgName)) {
    tabled = true;
    const pg = await admin();
    const schema = pg.freshSchema('relay');
    const url = pg.url('relay');
    const store = createPostgresEventStore({ connectionString: url, schema, poolSize: 4 });
    const checkpoints = createPostgresReadStore({ connectionString: url, schema, poolSize: 2 });
    try {
      await relayLine(pgName, nc, jsm, broker, {
        store,
        checkpoint: (name) => storeCheckpoint({ store: checkpoints, name }),
        serverCpu: cpuOfAll(broker.cpu(), pg.backendCpu(url)),
        sync: 'postgres event store, JetStream file store',
        note: `${EVENTS} stored events, defaults (batchSize ${IN_FLIGHT}, maxInFlight ${IN_FLIGHT}); checkpoint in a PostgreSQL read store on the event store's schema (storeCheckpoint); serverCpu = nats-server + PostgreSQL backends`,
      });
    } finally {
      await store.close();
      await checkpoints.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Consumer apply

/** A stream the relay filled from a SQLite event store, read by every consumer round through a durable of its own. */
type Fed = { stream: string; prefix: string; store: EventStore; head: number };

/** Publishes `store`'s whole log into a fresh stream with the relay, off the record. */
async function feed(nc: NatsConnection, jsm: JetStreamManager, store: EventStore, label: string): Promise<Fed> {
  const { stream, prefix } = streamOf(label, 'log');
  await createStream(jsm, stream, prefix);
  const head = await store.headPosition();
  let done!: () => void;
  const reached = new Promise<void>((resolve) => {
    done = resolve;
  });
  const memory = storeCheckpoint({ store: createInMemoryReadStore(), name: 'feed' });
  const relay = createJetStreamRelay({
    eventStore: store,
    nats: nc,
    stream,
    subjectPrefix: prefix,
    checkpoint: watched(memory, head, done),
  });
  await relay.start();
  await reached;
  await relay.stop();
  const { state } = await jsm.streams.info(stream);
  if (state.messages !== head) throw new Error(`stream ${stream} holds ${state.messages} messages, the log ${head}`);
  return { stream, prefix, store, head };
}

const CONSUMER_BATCH = 500;

/** The durable a bare consumer reads with: the source's settings (ack all, 10,000 pending at most, 30 s ack wait). */
async function bareDurable(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    ack_wait: 30_000 * 1_000_000,
    max_ack_pending: 10_000,
    max_deliver: -1,
  });
}

/**
 * Fetches every message of `fed`'s stream through `durable` in pulls of CONSUMER_BATCH, hands each pull to `apply`,
 * then acknowledges its last message (ack policy all); the last ack awaits the server's answer. Throws unless the
 * stream sequences come in order, each once.
 */
async function pullAll(js: JetStreamClient, fed: Fed, durable: string, apply?: (batch: JsMsg[]) => void): Promise<void> {
  const consumer = await js.consumers.get(fed.stream, durable);
  let received = 0;
  let empty = 0;
  while (received < fed.head) {
    // Never more than what is left: a pull for more waits out its expiry once the stream is drained.
    const messages = await consumer.fetch({ max_messages: Math.min(CONSUMER_BATCH, fed.head - received), expires: 5000 });
    const batch: JsMsg[] = [];
    for await (const m of messages) {
      if (m.seq !== received + batch.length + 1) throw new Error(`stream sequence ${m.seq} after ${received + batch.length}`);
      batch.push(m);
    }
    if (batch.length === 0) {
      if (++empty > 3) throw new Error(`no messages for 15 s after ${received}`);
      continue;
    }
    apply?.(batch);
    received += batch.length;
    const last = batch[batch.length - 1];
    if (received === fed.head) await last.ackAck();
    else last.ack();
  }
}

/** The consumer-side projection: one upsert per event, a row per stream (the orders projection of bench/run.ts). */
const UPSERT = (table: string) =>
  `INSERT INTO ${table} (stream_id, lines, position) VALUES (?, ?, ?)
   ON CONFLICT (stream_id) DO UPDATE SET lines = lines + excluded.lines, position = excluded.position`;
const ORDERS_TABLE = (table: string) =>
  `CREATE TABLE ${table} (stream_id TEXT PRIMARY KEY, lines INTEGER NOT NULL, position INTEGER NOT NULL)`;
const upsertProjection = defineProjection<SqlReadTx>({
  name: 'orders',
  version: 1,
  setup(tx) {
    tx.run(ORDERS_TABLE(tx.table('orders')));
  },
  handlers: Object.fromEntries(
    ['OrderPlaced', 'OrderPaid', 'OrderShipped'].map((type) => [
      type,
      (e: RecordedEvent, tx: SqlReadTx) => {
        tx.run(UPSERT(tx.table('orders')), [e.streamId, (e.data as Payload).lines.length, e.position]);
      },
    ]),
  ),
});

/** What the upsert projection must have left: a row per stream of 10 events, two lines per event. */
function expectOrders(row: { n: number; total: number; last: number } | undefined, head: number): string {
  if (row?.n !== head / 10 || row.total !== 2 * head || row.last !== head) {
    throw new Error(`orders table holds ${JSON.stringify(row)}, not ${head / 10} rows of ${2 * head} lines up to ${head}`);
  }
  return `read model checked: ${row.n} rows, ${row.total} lines, last position ${row.last}`;
}

function consumerOptions(
  events: number,
  note: string,
  sync: string,
  serverCpu: CpuProbe | undefined,
  check: () => Promise<string>,
  target?: number,
): MeasureOptions {
  return { ops: 1, concurrency: 1, eventsPerOp: events, sync, serverCpu, note, check, target };
}

/** The brief's floor: a bare durable pull consumer fetching and acknowledging every message, nothing applied. */
function bareFetchAck(name: string, js: JetStreamClient, jsm: JetStreamManager, fed: Fed, serverCpu: CpuProbe): Side {
  let durable = '';
  return {
    name,
    options: consumerOptions(
      fed.head,
      `@nats-io/jetstream durable pull consumer (ack all), fetch ${CONSUMER_BATCH} at a time, ack the last of each; nothing decoded`,
      'JetStream file store',
      serverCpu,
      async () => {
        await jsm.consumers.delete(fed.stream, durable);
        return `${fed.head} messages in order`;
      },
    ),
    async before(round) {
      durable = `bare_${round}`.replace('-', 'w');
      await bareDurable(jsm, fed.stream, durable);
    },
    op: () => pullAll(js, fed, durable),
  };
}

/** The fair floor: the same pulls, each decoded and upserted by better-sqlite3 in one transaction with its checkpoint, acked after commit. */
function bareSqlite(name: string, js: JetStreamClient, jsm: JetStreamManager, fed: Fed, serverCpu: CpuProbe): Side {
  let durable = '';
  let db: Database.Database | undefined;
  return {
    name,
    options: consumerOptions(
      fed.head,
      `the same pulls; each decoded (JSON.parse) and upserted by better-sqlite3 (WAL, synchronous=NORMAL) in one transaction with a checkpoint row, acked after commit`,
      'sqlite read store (normal)',
      serverCpu,
      async () => {
        await jsm.consumers.delete(fed.stream, durable);
        const row = db!.prepare('SELECT count(*) AS n, sum(lines) AS total, max(position) AS last FROM orders').get() as
          | { n: number; total: number; last: number }
          | undefined;
        db!.close();
        return expectOrders(row, fed.head);
      },
    ),
    async before(round) {
      durable = `baresql_${round}`.replace('-', 'w');
      await bareDurable(jsm, fed.stream, durable);
      db = new Database(file('bare-read'));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(ORDERS_TABLE('orders'));
      db.exec('CREATE TABLE checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
    },
    op() {
      const upsert = db!.prepare(UPSERT('orders'));
      const checkpoint = db!.prepare(
        "INSERT INTO checkpoint (name, position) VALUES ('orders', ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position",
      );
      const apply = db!.transaction((batch: JsMsg[]) => {
        let position = 0;
        for (const m of batch) {
          const e = JSON.parse(decoder.decode(m.data)) as RecordedEvent<string, Payload>;
          upsert.run(e.streamId, e.data.lines.length, e.position);
          position = e.position;
        }
        checkpoint.run(position);
      });
      return pullAll(js, fed, durable, (batch) => apply(batch));
    },
  };
}

/** A projector over createJetStreamSource (its defaults) into a fresh SQLite read store, until it reached the head. */
function sourceProjector(
  name: string,
  nc: NatsConnection,
  jsm: JetStreamManager,
  fed: Fed,
  serverCpu: CpuProbe,
  projections: readonly Projection<SqlReadTx>[],
  note: string,
  verify: (store: SqliteReadStore) => Promise<string>,
): Side {
  let durable = '';
  let parts: { source: JetStreamSource; readStore: SqliteReadStore; projector: Projector } | undefined;
  return {
    name,
    options: consumerOptions(
      fed.head,
      note,
      'sqlite read store (normal)',
      serverCpu,
      async () => {
        const { source, readStore, projector } = parts!;
        await projector.stop();
        const status = source.status();
        await source.close();
        await jsm.consumers.delete(fed.stream, durable);
        const found = await verify(readStore);
        await readStore.close();
        if (status.ackedPosition !== fed.head) throw new Error(`source acked through ${status.ackedPosition}, not ${fed.head}`);
        return `${found}; acked through ${status.ackedPosition}, ${status.resets} resets, ${status.redeliveries} redeliveries`;
      },
      CONSUMER_TARGET,
    ),
    async before(round) {
      durable = `source_${round}`.replace('-', 'w');
      const source = createJetStreamSource({ nats: nc, stream: fed.stream, durable });
      const readStore = createSqliteReadStore({ path: file('source-read') });
      parts = { source, readStore, projector: createProjector({ eventStore: source, readStore, projections: [...projections] }) };
    },
    async op() {
      const { projector } = parts!;
      await projector.start();
      await projector.waitForPosition(fed.head, { timeoutMs: 600_000 });
    },
  };
}

/** The same projections fed straight from the SQLite event store: what a read side next to the log does. */
function directProjector(
  name: string,
  fed: Fed,
  projections: readonly Projection<SqlReadTx>[],
  note: string,
  verify: (store: SqliteReadStore) => Promise<string>,
): Side {
  let parts: { readStore: SqliteReadStore; projector: Projector } | undefined;
  return {
    name,
    options: consumerOptions(fed.head, note, 'sqlite read store (normal)', undefined, async () => {
      const { readStore, projector } = parts!;
      await projector.stop();
      const found = await verify(readStore);
      await readStore.close();
      return found;
    }),
    async before() {
      const readStore = createSqliteReadStore({ path: file('direct-read') });
      parts = { readStore, projector: createProjector({ eventStore: fed.store, readStore, projections: [...projections] }) };
    },
    async op() {
      const { projector } = parts!;
      await projector.start();
      await projector.waitForPosition(fed.head, { timeoutMs: 600_000 });
    },
  };
}

async function verifyUpserts(store: SqliteReadStore, head: number): Promise<string> {
  const r = store.reader('orders');
  const row = (await r.get(`SELECT count(*) AS n, sum(lines) AS total, max(position) AS last FROM ${r.table('orders')}`)) as
    | { n: number; total: number; last: number }
    | undefined;
  return expectOrders(row, head);
}

/** The four consumers of one stream, alternating: the bare floors first, the source last. */
async function consumerGroup(
  name: string,
  nc: NatsConnection,
  jsm: JetStreamManager,
  broker: BenchNats,
  fed: Fed,
  projections: readonly Projection<SqlReadTx>[],
  what: string,
  verify: (store: SqliteReadStore) => Promise<string>,
): Promise<void> {
  const js = jetstream(nc, { timeout: 30_000 });
  const fetchAck: ComparedSide = bareFetchAck(`${name}-bare-pull-fetch-ack`, js, jsm, fed, broker.cpu());
  const bare: ComparedSide[] = [fetchAck];
  if (projections.includes(upsertProjection)) {
    bare.push({ ...bareSqlite(`${name}-bare-pull-sqlite-upsert`, js, jsm, fed, broker.cpu()), versus: fetchAck.name });
  }
  const direct: ComparedSide = directProjector(
    `${name}-direct-from-sqlite-log`,
    fed,
    projections,
    `createProjector over the SQLite event store itself (no JetStream): ${what}; until waitForPosition(head)`,
    verify,
  );
  const source: ComparedSide = {
    ...sourceProjector(
      `${name}-jetstream-source`,
      nc,
      jsm,
      fed,
      broker.cpu(),
      projections,
      `createJetStreamSource (defaults) + createProjector: ${what}, ${fed.head} events in the stream; until waitForPosition(head); serverCpu = nats-server`,
      verify,
    ),
    versus: bare[bare.length - 1].name,
    alsoVersus: [...bare.slice(0, -1).map((b) => b.name), direct.name],
  };
  const sides = [...(withBaselines ? [...bare, direct] : []), ...(withSubjects ? [source] : [])];
  await warm(sides);
  await alternateSides(ROUNDS, sides);
}

async function consumerLines(broker: BenchNats, nc: NatsConnection, jsm: JetStreamManager) {
  const upserts = 'nats-consume-upsert';
  if (selected(upserts)) {
    tabled = true;
    const store = createSqliteEventStore({ path: file('consume-events') });
    try {
      await fill(store);
      const fed = await feed(nc, jsm, store, 'consume');
      await consumerGroup(
        upserts,
        nc,
        jsm,
        broker,
        fed,
        [upsertProjection],
        'one upsert per event into a SQLite read store',
        (s) => verifyUpserts(s, fed.head),
      );
      await jsm.streams.delete(fed.stream);
    } finally {
      await store.close();
    }
  }
  const shop = 'nats-consume-shop';
  if (selected(shop)) {
    tabled = true;
    const dataDir = join(dir, 'shop');
    await seedShopLog(dataDir);
    const store = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    try {
      const fed = await feed(nc, jsm, store, 'shop');
      await consumerGroup(
        shop,
        nc,
        jsm,
        broker,
        fed,
        shopProjections,
        `the Shop's ${shopProjections.length} projections (${shopProjections.map((p) => p.name).join(', ')}) into a SQLite read store`,
        sameAsFirst(),
      );
      await jsm.streams.delete(fed.stream);
    } finally {
      await store.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The Shop's log: written through its command bus, as its write side would.

const seeder: Principal = { id: 'bench', roles: ['admin'] };
const SHOP_PRODUCTS = 500;
const SHOP_CUSTOMERS = 1000;

/** The demo data, then orders (a third only created, a third paid, a third paid and shipped) until EVENTS events. */
async function seedShopLog(dataDir: string): Promise<void> {
  const shop = await createShop({ dataDir, role: 'write' });
  try {
    const bus = shop.commandBus!;
    await seedShop(bus);
    const send = (name: string, data: unknown) => bus.dispatch(name, data, { principal: seeder });
    await inParallel(SHOP_PRODUCTS, async (i) => {
      const productId = `bench-p-${i}`;
      await send('CreateProduct', {
        productId,
        sku: `BENCH-${i}`,
        name: `Bench item ${i}`,
        priceCents: 100 + i,
        currency: 'EUR',
      });
      await send('RestockProduct', { productId, quantity: 1_000_000 });
    });
    await inParallel(SHOP_CUSTOMERS, (i) =>
      send('RegisterCustomer', { customerId: `bench-c-${i}`, name: `Bench customer ${i}`, email: `bench-${i}@example.com` }),
    );
    for (let batch = 0; (await shop.eventStore!.headPosition()) < EVENTS; batch++) {
      await inParallel(2000, async (k) => {
        const n = batch * 2000 + k;
        const orderId = `bench-o-${n}`;
        await send('CreateOrder', {
          orderId,
          customerId: `bench-c-${n % SHOP_CUSTOMERS}`,
          lines: Array.from({ length: 1 + (n % 3) }, (_, j) => ({
            productId: `bench-p-${(n * 7 + j * 131) % SHOP_PRODUCTS}`,
            quantity: 1,
          })),
        });
        if (n % 3 >= 1) await send('PayOrder', { orderId });
        if (n % 3 === 2) await send('ShipOrder', { orderId });
      });
    }
  } finally {
    await shop.close();
  }
}

// Every table of the Shop's read model, by projection: compared whole (ORDER BY its first column, the key).
const SHOP_TABLES: ReadonlyArray<[projection: string, table: string]> = [
  ['customers', 'customers'],
  ['customers', 'orders'],
  ['catalog', 'products'],
  ['inventory', 'stock'],
  ['orders', 'orders'],
  ['sales', 'status_counts'],
  ['sales', 'revenue'],
  ['sales', 'product_sales'],
  ['sales', 'orders'],
];

/** A check that every side's Shop read model is the same as the first one checked (the direct-fed one, or any). */
function sameAsFirst(): (store: SqliteReadStore) => Promise<string> {
  let first: string | undefined;
  return async (store) => {
    const parts: string[] = [];
    for (const [projection, table] of SHOP_TABLES) {
      const r = store.reader(projection);
      const rows = await r.all(`SELECT * FROM ${r.table(table)} ORDER BY 1`);
      parts.push(`${table}:${rows.length}:${createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 12)}`);
    }
    const digest = parts.join(' ');
    first ??= digest;
    if (digest !== first) throw new Error(`Shop read model ${digest} differs from the first side's ${first}`);
    return `read model checked, the same on every side: ${digest}`;
  };
}

// ---------------------------------------------------------------------------------------------------------------

// Each group in a process of its own (and its own nats-server) when no `--only` picks one, so one group's heap (100k-event
// stores and logs) and JIT state cannot weigh on the next.
const GROUPS = [
  'nats-relay-publish-sqlite',
  'nats-relay-publish-pg',
  'nats-consume-upsert',
  'nats-consume-shop',
  'nats-read-node',
] as const;

if (!process.argv.includes('--only')) {
  rmSync(dir, { recursive: true, force: true });
  for (const group of GROUPS) {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2), '--only', group], {
      stdio: 'inherit',
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`bench:nats --only ${group} exited with ${code}`);
  }
} else {
  await runSelected();
}

async function runSelected(): Promise<void> {
  const broker = await openBenchNats();
  let nc: NatsConnection | undefined;
  let admin: Admin | undefined;
  try {
    nc = await broker.connect();
    const jsm = await jetstreamManager(nc);
    console.error(`(${broker.description}; ${EVENTS} events per round, ${ROUNDS} rounds)`);
    await relayLines(broker, nc, jsm, async () => {
      admin ??= await openAdmin();
      return admin;
    });
    await consumerLines(broker, nc, jsm);
    if (selected('nats-read-node')) await runReadNodeLine({ natsUrl: broker.url, jsm, dir, run, rounds: ROUNDS });
    // The read-node line prints its own shape (bench/http.ts's); the table is of the others.
    if (tabled) printTable();
  } finally {
    await nc?.close();
    await admin?.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
