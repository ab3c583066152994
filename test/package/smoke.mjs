// Runs with plain node (no tsx, no conditions) inside a fresh consumer project that installed the packed tarball:
// imports every entry, does real work with each, and prints what it saw as one JSON line for pack.int.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
// Driver packages the CommonJS loader has pulled in so far (all of them are CommonJS).
const loadedDrivers = () =>
  ['better-sqlite3', 'pg', 'fastify', 'prom-client', '@nats-io', 'ioredis'].filter((d) =>
    Object.keys(require.cache).some((f) => f.includes(`/node_modules/${d}/`)),
  );
const namesOf = (m) => Object.keys(m).sort();

const out = { resolved: {}, exports: {}, drivers: {} };
for (const entry of [
  'chronicle-es',
  'chronicle-es/sqlite',
  'chronicle-es/postgres',
  'chronicle-es/nats',
  'chronicle-es/redis',
  'chronicle-es/http',
  'chronicle-es/fetch',
  'chronicle-es/nest',
  'chronicle-es/testing',
]) {
  out.resolved[entry] = import.meta.resolve(entry);
}

const core = await import('chronicle-es');
const testing = await import('chronicle-es/testing');
out.drivers.coreAndTesting = loadedDrivers();
const http = await import('chronicle-es/http');
out.drivers.afterHttp = loadedDrivers();
const sqlite = await import('chronicle-es/sqlite');
out.drivers.afterSqlite = loadedDrivers();
const postgres = await import('chronicle-es/postgres');
out.drivers.afterPostgres = loadedDrivers();
const nats = await import('chronicle-es/nats');
out.drivers.afterNats = loadedDrivers();
const redis = await import('chronicle-es/redis');
out.drivers.afterRedis = loadedDrivers();
const fetchEntry = await import('chronicle-es/fetch');
const nest = await import('chronicle-es/nest');
Object.assign(out.exports, {
  'chronicle-es': namesOf(core),
  'chronicle-es/sqlite': namesOf(sqlite),
  'chronicle-es/postgres': namesOf(postgres),
  'chronicle-es/nats': namesOf(nats),
  'chronicle-es/redis': namesOf(redis),
  'chronicle-es/http': namesOf(http),
  'chronicle-es/testing': namesOf(testing),
  'chronicle-es/fetch': namesOf(fetchEntry),
  'chronicle-es/nest': namesOf(nest),
});
const { z } = await import('zod');

const Increment = core.defineCommand('Increment', z.object({ counterId: z.string().min(1), by: z.number().int() }));
const GetCount = core.defineQuery('GetCount', z.object({ counterId: z.string() }));
const counter = {
  initialState: { count: 0 },
  decide: (command) => [{ type: 'Incremented', data: { by: command.data.by } }],
  evolve: (state, event) => ({ count: state.count + event.data.by }),
};

// chronicle-es/testing: a passing scenario, and a wrong expectation that must throw.
testing
  .deciderSpec(counter)
  .given([])
  .when({ type: 'Increment', data: { counterId: 'c', by: 2 } })
  .then([{ type: 'Incremented', data: { by: 2 } }]);
try {
  testing
    .deciderSpec(counter)
    .given([])
    .when({ type: 'Increment', data: { counterId: 'c', by: 2 } })
    .then([]);
  out.deciderSpecCatchesMismatch = false;
} catch {
  out.deciderSpecCatchesMismatch = true;
}

// chronicle-es/sqlite: an event store on a temp file, written through the buses and read back after reopening.
const dir = mkdtempSync(join(tmpdir(), 'chronicle-consumer-'));
const path = join(dir, 'events.db');
const store = sqlite.createSqliteEventStore({ path });
await store.append('direct-1', [{ type: 'Noted', data: { n: 1 } }], { expectedVersion: 'no_stream' });
const handle = core.createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
const commandBus = core.createCommandBus().register(Increment, handle);
const queryBus = core.createQueryBus().register(GetCount, async ({ counterId }) => ({
  count: core.fold(counter, await store.readStream(`counter-${counterId}`)).count,
}));

// chronicle-es/http: a server over both buses, without prom-client installed.
const warnings = [];
const logger = {
  level: 'info',
  info() {},
  debug() {},
  trace() {},
  error() {},
  fatal() {},
  silent() {},
  warn: (...args) => void warnings.push(args.map(String).join(' ')),
  child() {
    return logger;
  },
};
const server = await http.createServer({ commandBus, queryBus, logger });
const inject = async (options) => {
  const reply = await server.inject(options);
  return { status: reply.statusCode, type: reply.headers['content-type'], body: reply.json() };
};
out.http = {
  command: await inject({ method: 'POST', url: '/commands/Increment', payload: { counterId: 'c1', by: 5 } }),
  invalid: await inject({ method: 'POST', url: '/commands/Increment', payload: { counterId: '', by: 1.5 } }),
  query: await inject({ method: 'GET', url: '/queries/GetCount?counterId=c1' }),
  health: await inject({ method: 'GET', url: '/health' }),
  metrics: await inject({ method: 'GET', url: '/metrics' }),
};
out.warnings = warnings;
await server.close();
try {
  await http.createServer({ commandBus, logger: false, metrics: () => {} });
  out.metricsOptionWithoutPromClient = 'started';
} catch (err) {
  out.metricsOptionWithoutPromClient = { code: err.code, message: err.message };
}
await store.close();

const reopened = sqlite.createSqliteEventStore({ path });
out.reread = {
  direct: (await reopened.readStream('direct-1')).map((e) => ({ type: e.type, data: e.data, version: e.version })),
  counter: (await reopened.readStream('counter-c1')).map((e) => ({ type: e.type, data: e.data })),
};
await reopened.close();
rmSync(dir, { recursive: true, force: true });

// chronicle-es/postgres: an append and a read on the real server (the URL comes from the test), in a schema of its own.
const pgStore = postgres.createPostgresEventStore({ connectionString: process.env.PG_URL, schema: process.env.PG_SCHEMA });
const appended = await pgStore.append('pg-1', [{ type: 'Noted', data: { n: 1 } }], { expectedVersion: 'no_stream' });
out.postgres = {
  appended: { version: appended.version, duplicate: appended.duplicate },
  read: (await pgStore.readStream('pg-1')).map((e) => ({ type: e.type, data: e.data, version: e.version })),
};
await pgStore.close();

// chronicle-es/nats and chronicle-es/redis: three events relayed into a fresh JetStream stream, and projected from
// there (a durable consumer, no event store) into Redis under a fresh prefix; both removed afterwards.
{
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const { Redis } = await import('ioredis');
  const nc = await connect({ servers: process.env.NATS_URL });
  const unique = `${process.pid}_${Date.now()}`;
  const stream = `PACK_${unique}`;
  const prefix = `pack_${unique}`;
  const log = core.createInMemoryEventStore();
  await log.append(
    'tally-1',
    [1, 2, 3].map((n) => ({ type: 'Counted', data: { n } })),
  );
  const relay = nats.createJetStreamRelay({
    eventStore: log,
    nats: nc,
    stream,
    subjectPrefix: `pack.${unique}`,
    checkpoint: core.storeCheckpoint({ store: core.createInMemoryReadStore(), name: 'relay' }),
  });
  await relay.start();
  const deadline = Date.now() + 10_000;
  while ((await relay.status()).position < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const source = nats.createJetStreamSource({ nats: nc, stream, durable: 'pack' });
  const readStore = redis.createRedisReadStore({ url: process.env.REDIS_URL, prefix });
  const tally = core.defineProjection({
    name: 'tally',
    version: 1,
    handlers: {
      Counted: async (event, tx) => {
        const rows = tx.table('rows');
        rows.set('total', ((await rows.get('total')) ?? 0) + event.data.n);
      },
    },
  });
  const projector = core.createProjector({ eventStore: source, readStore, projections: [tally] });
  await projector.start();
  await projector.waitForPosition(3, { timeoutMs: 10_000 });
  const jsm = await jetstreamManager(nc);
  // The durable acknowledges once the batch is committed; give the ack a moment to reach the server.
  let acked = 0;
  while (Date.now() < deadline) {
    acked = (await jsm.consumers.info(stream, 'pack')).ack_floor.stream_seq;
    if (acked === 3) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  out.jetStream = {
    relayed: (await jsm.streams.info(stream)).state.messages,
    projected: await readStore.reader('tally').table('rows').get('total'),
    acked,
  };
  await projector.stop();
  await source.close();
  await relay.stop();
  await readStore.close();
  await jsm.streams.delete(stream);
  await nc.close();
  const client = new Redis(process.env.REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
  client.disconnect();
}

try {
  await import('prom-client');
  out.promClient = 'installed';
} catch (err) {
  out.promClient = err.code;
}
console.log(JSON.stringify(out));
