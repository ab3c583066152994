// The Shop's read node on Redis fed through JetStream, over HTTP: `SHOP_ROLE=read CHRONICLE_READ_STORE=redis://…`
// beside the SQLite read node fed the same way (`SHOP_ROLE=read` with a data dir of its own), each a process of its own
// with its own durable, both caught up with the same seeded Shop before the load starts, the relaying `project`
// process stopped meanwhile. GetOrderStatus under autocannon (32 connections, loopback), the two nodes measured
// alternately; one JSON line in bench/http.ts's shape, the SQLite node as the baseline.
// (Benchmark tooling: ioredis is imported here only to find the server's process; test/redis-prefix.ts drops the
// run's keys.)
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { JetStreamManager } from '@nats-io/jetstream';
import type autocannon from 'autocannon';
import type { Principal } from 'chronicle-es';
import { Redis } from 'ioredis';
import { createShop } from '../examples/shop/app.js';
import { seedShop } from '../examples/shop/seed.js';
import { dropPrefix } from '../test/redis-prefix.js';
import { quick, scaled } from './harness.js';
import {
  ADMIN_KEY,
  CONNECTIONS,
  compare,
  inParallel,
  load,
  type Measured,
  type Server,
  startServer,
  stop,
} from './http-servers.js';
import { cpuSecondsOf } from './process-cpu.js';

const REDIS_URL = process.env.CHRONICLE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const admin: Principal = { id: 'bench', roles: ['admin'] };
const durationAt = process.argv.indexOf('--duration');
const DURATION = durationAt === -1 ? (quick ? 4 : 10) : Number(process.argv[durationAt + 1]);
const ORDERS = scaled(20_000);
const PRODUCTS = 500;

export type ReadNodeOptions = {
  /** The NATS server the Shop's relay and read nodes use. */
  natsUrl: string;
  /** To delete the Shop's stream (and the durables on it) afterwards. */
  jsm: JetStreamManager;
  /** A fresh directory for the Shop's files. */
  dir: string;
  /** Unique per run: stream, subjects, durables and the Redis key prefix are named after it. */
  run: string;
  rounds: number;
};

type Node = Server & { name: string };

/** Seeds a Shop, relays it into JetStream, starts both read nodes, measures them, prints the line. */
export async function runReadNodeLine(options: ReadNodeOptions): Promise<void> {
  const { natsUrl, jsm, dir, run, rounds } = options;
  const dataDir = join(dir, 'shop-write');
  const head = await seed(dataDir);
  const prefix = `chronicle-bench:${run}`;
  const jetStream = {
    CHRONICLE_NATS_URL: natsUrl,
    SHOP_NATS_STREAM: `BENCH_${run}_shop_http`,
    SHOP_NATS_SUBJECTS: `bench_${run}_shop_http`,
  };
  const nodes: Node[] = [];
  const started = async (name: string, env: Record<string, string>) => {
    const node = await startNode(name, env);
    nodes.push(node);
    return node;
  };
  try {
    // The relaying process first: it creates the stream, which a read node needs at startup.
    const relay = await started('project', { SHOP_ROLE: 'project', DATA_DIR: dataDir, ...jetStream });
    const sqlite = await started('read-sqlite', {
      SHOP_ROLE: 'read',
      DATA_DIR: fresh(join(dir, 'read-sqlite')),
      SHOP_NATS_DURABLE: `bench_${run}_sqlite`,
      ...jetStream,
    });
    const redis = await started('read-redis', {
      SHOP_ROLE: 'read',
      DATA_DIR: fresh(join(dir, 'read-redis')),
      CHRONICLE_READ_STORE: REDIS_URL,
      SHOP_REDIS_PREFIX: prefix,
      SHOP_NATS_DURABLE: `bench_${run}_redis`,
      ...jetStream,
    });
    await Promise.all([caughtUp(sqlite, head), caughtUp(redis, head)]);
    // Both read nodes hold the whole log: the relay's process would only poll the idle log meanwhile.
    await stop(relay);
    const same = await sameAnswers(sqlite, redis);
    const redisPid = await redisServerPid();
    const compared = await compare(
      { subject: (seconds) => readRound(redis, seconds, redisPid), baseline: (seconds) => readRound(sqlite, seconds, redisPid) },
      rounds,
      DURATION,
      quick ? 1 : 2,
    );
    report(compared, head, same);
  } finally {
    for (const node of nodes) await stop(node);
    await dropPrefix(prefix, REDIS_URL);
    await jsm.streams.delete(jetStream.SHOP_NATS_STREAM).catch(() => false);
  }
}

function fresh(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

// The read half of bench/http.ts's seed: GetOrderStatus reads these orders, placed through the command bus.
async function seed(dataDir: string): Promise<number> {
  const shop = await createShop({ dataDir, role: 'write' });
  try {
    const bus = shop.commandBus!;
    await seedShop(bus);
    const send = (name: string, payload: unknown) => bus.dispatch(name, payload, { principal: admin });
    await inParallel(PRODUCTS, async (i) => {
      const productId = `read-p-${i}`;
      await send('CreateProduct', { productId, sku: `READ-${i}`, name: `Read item ${i}`, priceCents: 100 + i, currency: 'EUR' });
      await send('RestockProduct', { productId, quantity: 1_000_000 });
      await send('RegisterCustomer', { customerId: `read-c-${i}`, name: `Read customer ${i}`, email: `read-${i}@example.com` });
    });
    await inParallel(ORDERS, (n) =>
      send('CreateOrder', {
        orderId: `seeded-${n}`,
        customerId: `read-c-${n % PRODUCTS}`,
        lines: Array.from({ length: 1 + (n % 3) }, (_, k) => ({ productId: `read-p-${(n + k * 37) % PRODUCTS}`, quantity: 1 })),
      }),
    );
    return await shop.eventStore!.headPosition();
  } finally {
    await shop.close();
  }
}

/** `npm start` with `env`, as the Shop is deployed; resolves once `/health` answers 200. */
async function startNode(name: string, env: Record<string, string>): Promise<Node> {
  const server = await startServer(
    'examples/shop/main.ts',
    {
      SHOP_API_KEYS: `${ADMIN_KEY}:admin`,
      // The 404 of the unknown order compared below logs at warn; anything worse still prints.
      LOG_LEVEL: 'error',
      NODE_ENV: 'production',
      ...env,
    },
    { label: `Shop ${name}`, healthyWithinMs: 60_000 },
  );
  return { ...server, name };
}

const query = (node: Node, path: string, headers: Record<string, string> = {}) =>
  fetch(`${node.url}${path}`, { headers: { 'x-api-key': ADMIN_KEY, ...headers } });

/** Resolves once the node's orders projection has passed `head` (minPosition, waiting up to 5 minutes). */
async function caughtUp(node: Node, head: number): Promise<void> {
  const reply = await query(node, `/queries/GetOrderStatus?orderId=seeded-0&minPosition=${head}`, {
    'chronicle-wait-ms': '300000',
  });
  if (reply.status !== 200) throw new Error(`${node.name} did not reach position ${head}: ${reply.status} ${await reply.text()}`);
}

/** Both nodes answer 200 orders (and an unknown one) byte for byte alike, the correlation id aside. */
async function sameAnswers(a: Node, b: Node): Promise<string> {
  const ids = [...Array.from({ length: 200 }, (_, k) => `seeded-${Math.floor((k * ORDERS) / 200)}`), 'no-such-order'];
  for (const id of ids) {
    const [x, y] = await Promise.all(
      [a, b].map(async (node) => {
        const reply = await query(node, `/queries/GetOrderStatus?orderId=${id}`);
        const { correlationId: _, ...body } = (await reply.json()) as Record<string, unknown>;
        return JSON.stringify({ status: reply.status, body });
      }),
    );
    if (x !== y) throw new Error(`${id}: ${a.name} answered ${x}, ${b.name} ${y}`);
  }
  return `${ids.length} answers compared, identical`;
}

// The Redis server's process (INFO server's process_id), when it runs on this machine: its CPU counts for the Redis node.
async function redisServerPid(): Promise<number | undefined> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    const info = await client.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    return Number.isSafeInteger(pid) && cpuSecondsOf(pid) !== undefined ? pid : undefined;
  } finally {
    client.disconnect();
  }
}

// One round of GetOrderStatus of a random seeded order, with the Redis server's CPU when it runs here.
function readRound(node: Node, seconds: number, redisPid: number | undefined): Promise<Measured> {
  const request: autocannon.Request = {
    method: 'GET',
    headers: { 'x-api-key': ADMIN_KEY },
    setupRequest: (request) => ({
      ...request,
      path: `/queries/GetOrderStatus?orderId=seeded-${Math.floor(Math.random() * ORDERS)}`,
    }),
  };
  return load(node, seconds, request, redisPid);
}

function report({ subject, baseline, rounds }: Awaited<ReturnType<typeof compare>>, head: number, same: string): void {
  const redisCpuUsPerRequest = subject.otherCpuUsPerRequest;
  const line = {
    name: 'nats-read-node-redis-GetOrderStatus',
    requestsPerSec: subject.requestsPerSec,
    baseline: 'nats-read-node-sqlite-GetOrderStatus',
    baselineRequestsPerSec: baseline.requestsPerSec,
    ratio: +(subject.requestsPerSec / baseline.requestsPerSec).toFixed(3),
    p50Ms: subject.p50Ms,
    p99Ms: subject.p99Ms,
    errors: subject.errors,
    non2xx: subject.non2xx,
    cpuUsPerRequest: subject.cpuUsPerRequest,
    // The Redis server's CPU per request on the same cores (shared with whatever else uses that server meanwhile).
    redisServerCpuUsPerRequest: redisCpuUsPerRequest,
    cpuRatio:
      subject.cpuUsPerRequest && baseline.cpuUsPerRequest
        ? +(baseline.cpuUsPerRequest / (subject.cpuUsPerRequest + (redisCpuUsPerRequest ?? 0))).toFixed(3)
        : undefined,
    baselineSide: {
      p50Ms: baseline.p50Ms,
      p99Ms: baseline.p99Ms,
      errors: baseline.errors,
      non2xx: baseline.non2xx,
      cpuUsPerRequest: baseline.cpuUsPerRequest,
    },
    // [Redis node, SQLite node] requests/s of every round; the figures above are each side's median round.
    rounds,
    connections: CONNECTIONS,
    seconds: DURATION,
    total: subject.total,
    note: `SHOP_ROLE=read nodes fed through JetStream (a durable each) from a Shop of ${ORDERS} orders (${head} events), caught up before the load, the relaying process stopped; GetOrderStatus of a random seeded order; ${same}; cpuRatio counts the Redis server's CPU with the Redis node's`,
    load1: +loadavg()[0].toFixed(2),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
