// The Shop's read node on Redis fed through JetStream, over HTTP: `SHOP_ROLE=read CHRONICLE_READ_STORE=redis://…`
// beside the SQLite read node fed the same way (`SHOP_ROLE=read` with a data dir of its own), each a process of its own
// with its own durable, both caught up with the same seeded Shop before the load starts, the relaying `project`
// process stopped meanwhile. GetOrderStatus under autocannon (32 connections, loopback), the two nodes measured
// alternately; one JSON line in bench/http.ts's shape, the SQLite node as the baseline.
// (Benchmark tooling: ioredis is imported here only to find the server's process and drop the run's keys.)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { JetStreamManager } from '@nats-io/jetstream';
import autocannon from 'autocannon';
import type { Principal } from 'chronicle-es';
import { Redis } from 'ioredis';
import { createShop } from '../examples/shop/app.js';
import { seedShop } from '../examples/shop/seed.js';
import { quick, scaled } from './harness.js';
import { cpuSecondsOf } from './process-cpu.js';

const REDIS_URL = process.env.CHRONICLE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = 32;
const ADMIN_KEY = 'bench-admin-key-0123456789';
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

type Node = { name: string; url: string; child: ChildProcess };
type Measured = {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  total: number;
  cpuUsPerRequest?: number;
  redisCpuUsPerRequest?: number;
};

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
    const compared = await compare(redis, sqlite, rounds, redisPid);
    report(compared, head, same);
  } finally {
    for (const node of nodes) await stop(node);
    await dropPrefix(prefix);
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
    const inParallel = async (count: number, each: (i: number) => Promise<unknown>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let i = next++; i < count; i = next++) await each(i);
        }),
      );
    };
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

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** `npm start` with `env`, as the Shop is deployed; resolves once `/health` answers 200. */
async function startNode(name: string, env: Record<string, string>): Promise<Node> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', 'examples/shop/main.ts'], {
    env: {
      ...process.env,
      SHOP_API_KEYS: `${ADMIN_KEY}:admin`,
      // The 404 of the unknown order compared below logs at warn; anything worse still prints.
      LOG_LEVEL: 'error',
      NODE_ENV: 'production',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const since = Date.now(); ; ) {
    if (child.exitCode !== null) throw new Error(`Shop ${name} exited with ${child.exitCode}`);
    const health = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (health === 200) return { name, url, child };
    if (Date.now() - since > 60_000) throw new Error(`Shop ${name} did not become healthy in 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(node: Node): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((resolve) => node.child.once('exit', resolve));
  node.child.kill('SIGTERM');
  await exited;
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

const perRequest = (before: number | undefined, after: number | undefined, requests: number) =>
  before === undefined || after === undefined || requests === 0 ? undefined : Math.round(((after - before) * 1e6) / requests);

async function load(node: Node, seconds: number, redisPid: number | undefined): Promise<Measured> {
  const cpu = cpuSecondsOf(node.child.pid);
  const redisCpu = cpuSecondsOf(redisPid);
  const result = await autocannon({
    url: node.url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        headers: { 'x-api-key': ADMIN_KEY },
        setupRequest: (request) => ({
          ...request,
          path: `/queries/GetOrderStatus?orderId=seeded-${Math.floor(Math.random() * ORDERS)}`,
        }),
      },
    ],
  });
  const total = result.requests.total;
  return {
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    total,
    cpuUsPerRequest: perRequest(cpu, cpuSecondsOf(node.child.pid), total),
    redisCpuUsPerRequest: perRequest(redisCpu, cpuSecondsOf(redisPid), total),
  };
}

/** Warms both up, then `rounds` alternating rounds (the baseline first in even ones); each side's median round. */
async function compare(subject: Node, baseline: Node, rounds: number, redisPid: number | undefined) {
  for (const node of [baseline, subject]) await load(node, quick ? 1 : 2, redisPid);
  const results = { subject: [] as Measured[], baseline: [] as Measured[] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['baseline', 'subject'] as const) : (['subject', 'baseline'] as const);
    for (const which of order) {
      results[which].push(await load(which === 'subject' ? subject : baseline, DURATION, redisPid));
    }
  }
  const median = (list: Measured[]) => [...list].sort((a, b) => a.requestsPerSec - b.requestsPerSec)[(list.length - 1) >> 1];
  return {
    subject: median(results.subject),
    baseline: median(results.baseline),
    rounds: results.subject.map((s, i) => [s.requestsPerSec, results.baseline[i].requestsPerSec]),
  };
}

function report({ subject, baseline, rounds }: Awaited<ReturnType<typeof compare>>, head: number, same: string): void {
  const { redisCpuUsPerRequest, ...own } = subject;
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
    cpuUsPerRequest: own.cpuUsPerRequest,
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

/** Deletes every key under `prefix` (SCAN, then UNLINK: never KEYS on a shared server). */
async function dropPrefix(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    let cursor = '0';
    do {
      const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (found.length > 0) await client.unlink(found);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
