// `npm run bench:nats [-- --quick] [--rounds N] [--only <name>] [--nats-url <url>]`: the JetStream lines of issue 9,
// each beside a bare-driver baseline doing the same work in the same run, measured in alternating rounds (harness.ts):
// - relay publish: a relay publishing 100k stored events from a SQLite (and a PostgreSQL) event store into a fresh
//   JetStream stream until the broker acknowledged the last, beside a bare @nats-io/jetstream pipelined publish of the
//   same subjects and bodies with msgID and the same window of publishes in flight.
// One JSON line per side, then a table. A private nats-server is started for the run (bench/nats-server.ts).
// (Benchmark tooling, not library code: @nats-io/* are imported here beside src/nats/.)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager, type PubAck } from '@nats-io/jetstream';
import { createInbox, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { type EventStore, type NewEvent, type RelayCheckpoint, storeCheckpoint } from 'chronicle-es';
import { createJetStreamRelay, eventBody, eventHeaders, type JetStreamRelay, subjectOf } from 'chronicle-es/nats';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import { createSqliteCheckpoint, createSqliteEventStore, type SqliteCheckpoint } from 'chronicle-es/sqlite';
import { alternateSides, type ComparedSide } from './alternate-sides.js';
import { type CpuProbe, cpuOfAll, printTable, quick, type Side, scaled, selected } from './harness.js';
import { type BenchNats, openBenchNats } from './nats-server.js';
import { payload } from './payload.js';
import { type Admin, openAdmin } from './pg-server.js';

const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = roundsAt === -1 ? (quick ? 2 : 3) : Number(process.argv[roundsAt + 1]);
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds takes a positive integer');
/** Events in the log each relay round publishes (and each consumer round applies). */
const EVENTS = scaled(100_000);
/** The relay's defaults (batchSize and maxInFlight 1000), and the bare publisher's window. */
const IN_FLIGHT = 1000;
const RELAY_TARGET = 30_000;
// To profile one side alone: `--no-baselines` runs only Chronicle's sides, `--only-baselines` only the bare ones.
const withBaselines = !process.argv.includes('--no-baselines');
const withSubjects = !process.argv.includes('--only-baselines');
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-nats-'));
let files = 0;
const file = (name: string) => join(dir, `${++files}-${name}.db`);
const decoder = new TextDecoder();

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
  printTable();
} finally {
  await nc?.close();
  await admin?.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
