// What the Shop's JetStream tests share: real `npm start` processes wired to one stream, a realistic script of
// commands driven over HTTP, waiting until a node's read models reach a position, every table of every projection of
// a SQLite read store in a comparable form, and the check that the stream holds the event log exactly once.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RecordedEvent } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { projections } from '../projections/index.js';
import { customers, products } from '../seed-data.js';
import { type ShopProcess, startShopProcess } from './shop-process.js';

export const ADMIN_KEY = 'jetstream-admin-key-0123456789';

/** A stream name and subject prefix no other test (on the shared server) uses. */
export function freshJetStream(label: string): { stream: string; subjects: string } {
  const token = randomUUID().replaceAll('-', '').slice(0, 10);
  return { stream: `SHOP_T_${label}_${token}`, subjects: `shoptest.${label}.${token}` };
}

/** A fresh temporary directory, removed by `removeDirs`. */
export function freshDir(label: string, dirs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), `shop-js-${label}-`));
  dirs.push(dir);
  return dir;
}

export function removeDirs(dirs: readonly string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

export type Reply = { status: number; body: any };

/** One Shop process, restartable on the same data dir and environment (a new port each time). */
export type ShopNode = {
  readonly label: string;
  readonly dataDir: string;
  readonly url: string;
  readonly running: boolean;
  /** Every stdout line of every run, oldest first. */
  readonly logs: string[];
  command(name: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  query(name: string, params?: Record<string, string | number>, headers?: Record<string, string>): Promise<Reply>;
  get(path: string): Promise<Reply>;
  /** SIGKILL, resolving once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), resolving once the process is gone. */
  stop(): Promise<void>;
  /** Starts it again (after kill or stop). */
  start(): Promise<void>;
};

/** Starts `npm start` with `env` over `dataDir`; `stop()`/`kill()` end it, and tests must end it. */
export async function startNode(label: string, dataDir: string, env: NodeJS.ProcessEnv): Promise<ShopNode> {
  const runs: string[][] = [];
  let proc: ShopProcess | undefined;
  const headers = { 'x-api-key': ADMIN_KEY };
  const request = async (path: string, init?: RequestInit): Promise<Reply> => {
    if (!proc) throw new Error(`${label} is not running`);
    const res = await fetch(proc.url + path, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body };
  };
  const end = async (signal: NodeJS.Signals) => {
    const running = proc;
    proc = undefined;
    if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.child.once('exit', () => resolve()));
    running.child.kill(signal);
    await exited;
  };
  const node: ShopNode = {
    label,
    dataDir,
    get url() {
      if (!proc) throw new Error(`${label} is not running`);
      return proc.url;
    },
    get running() {
      return proc !== undefined;
    },
    get logs() {
      return runs.flat();
    },
    command: (name, body, extra) =>
      request(`/commands/${name}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', ...extra },
        body: JSON.stringify(body),
      }),
    query: (name, params = {}, extra) => {
      const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
      return request(`/queries/${name}${qs ? `?${qs}` : ''}`, { headers: { ...headers, ...extra } });
    },
    get: (path) => request(path, { headers }),
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    async start() {
      if (proc) return;
      proc = await startShopProcess({ dataDir, adminKey: ADMIN_KEY, env, startTimeoutMs: 30_000 });
      runs.push(proc.logs);
    },
  };
  await node.start();
  return node;
}

/** The environment that points a Shop process at JetStream. */
export function jetStreamEnv(url: string, names: { stream: string; subjects: string }): NodeJS.ProcessEnv {
  return { CHRONICLE_NATS_URL: url, SHOP_NATS_STREAM: names.stream, SHOP_NATS_SUBJECTS: names.subjects };
}

/** A command and the statuses it may answer (a race may decide between two). */
export type Step = { name: string; body: unknown; expect: readonly number[]; idempotencyKey?: string };
/** Steps sent one after the other (an order's life); tasks run side by side. */
export type Task = Step[];

/**
 * The Shop's day: the seed catalog (restocked deep, but one product with only a few units that more orders want than
 * it has), its customers, then `orders` orders each created and then paid, shipped, cancelled, or left, with refused
 * steps among them (cancelling a shipped order, paying a cancelled one), retries with an Idempotency-Key, restocks,
 * price changes and customer updates in between, and a product taken off sale at the end. `round` keeps ids apart.
 */
export function shopScript(round: string, orders: number): { setup: Task[]; traffic: Task[]; closing: Task[] } {
  const ok = [200] as const;
  const refused = [422] as const;
  const catalog = products.filter((p) => p.productId !== 'descaler');
  const scarce = `${round}-last-units`;
  const setup: Task[] = [
    ...catalog.map(
      (p): Task => [
        {
          name: 'CreateProduct',
          body: { ...withoutStock(p), productId: `${round}-${p.productId}`, sku: `${round.toUpperCase()}-${p.sku}` },
          expect: ok,
        },
        { name: 'RestockProduct', body: { productId: `${round}-${p.productId}`, quantity: 100_000 }, expect: ok },
      ],
    ),
    [
      {
        name: 'CreateProduct',
        body: { productId: scarce, sku: `${round.toUpperCase()}-LAST`, name: 'Last units', priceCents: 4200, currency: 'EUR' },
        expect: ok,
      },
      { name: 'RestockProduct', body: { productId: scarce, quantity: 6 }, expect: ok },
    ],
    ...customers.map(
      (c): Task => [
        {
          name: 'RegisterCustomer',
          body: { ...c, customerId: `${round}-${c.customerId}`, email: `${round}.${c.email}` },
          expect: ok,
        },
      ],
    ),
  ];
  const productAt = (i: number) => `${round}-${catalog[i % catalog.length].productId}`;
  const customerAt = (i: number) => `${round}-${customers[i % customers.length].customerId}`;
  const traffic: Task[] = [];
  for (let i = 0; i < orders; i++) {
    const orderId = `${round}-o${i}`;
    const lines = [{ productId: productAt(i), quantity: 1 + (i % 3) }];
    if (i % 2) lines.push({ productId: productAt(i + 5), quantity: 1 });
    if (i % 5 === 0) lines.push({ productId: productAt(i + 9), quantity: 2 });
    const create: Step = { name: 'CreateOrder', body: { orderId, customerId: customerAt(i), lines }, expect: ok };
    const task: Task = [create];
    // A client retrying (its answer lost): the same key returns the first result and writes nothing.
    if (i % 9 === 0) {
      create.idempotencyKey = `${orderId}-create`;
      task.push({ ...create });
    }
    const pay: Step = { name: 'PayOrder', body: { orderId }, expect: ok };
    const ship: Step = { name: 'ShipOrder', body: { orderId }, expect: ok };
    const cancel: Step = { name: 'CancelOrder', body: { orderId, reason: 'changed my mind' }, expect: ok };
    switch (i % 6) {
      case 0:
        task.push(pay, ship, { ...cancel, expect: refused });
        break;
      case 1:
        task.push(pay, cancel);
        break;
      case 2:
        task.push(cancel, { ...pay, expect: refused });
        break;
      case 3:
        task.push(pay);
        break;
      case 4:
        break;
      default:
        task.push(pay, ship);
    }
    traffic.push(task);
    if (i % 4 === 0) traffic.push([{ name: 'RestockProduct', body: { productId: productAt(i * 7), quantity: 3 }, expect: ok }]);
    if (i % 10 === 3) {
      traffic.push([{ name: 'ChangeProductPrice', body: { productId: productAt(i), priceCents: 500 + i }, expect: ok }]);
    }
    if (i % 12 === 5) {
      traffic.push([{ name: 'UpdateCustomerDetails', body: { customerId: customerAt(i), name: `Customer ${i}` }, expect: ok }]);
    }
    // More orders want the scarce product than it has: which ones win is the race's, the same on every read side.
    if (i % 8 === 1) {
      traffic.push([
        {
          name: 'CreateOrder',
          body: { orderId: `${orderId}-rush`, customerId: customerAt(i + 1), lines: [{ productId: scarce, quantity: 1 }] },
          expect: [200, 422],
        },
      ]);
    }
  }
  const gone = productAt(3);
  const closing: Task[] = [
    [
      { name: 'DeleteProduct', body: { productId: gone }, expect: ok },
      {
        name: 'CreateOrder',
        body: { orderId: `${round}-after-delete`, customerId: customerAt(0), lines: [{ productId: gone, quantity: 1 }] },
        expect: refused,
      },
    ],
  ];
  return { setup, traffic, closing };
}

function withoutStock<T extends { stock: number }>(product: T): Omit<T, 'stock'> {
  const { stock: _stock, ...rest } = product;
  return rest;
}

export type DriveResult = {
  /** Commands answered. */
  sent: number;
  /** How many answered each status. */
  statuses: Record<number, number>;
  /** Answers a step did not expect (or requests that failed), as text. */
  surprises: string[];
  /** The highest position a command answered. */
  head: number;
};

/**
 * Runs `tasks`, `concurrency` at a time, against `node()` (asked before every command, so a restarted node is used).
 * `onAnswer(n)` runs after the n-th answer and is awaited before that task goes on (a test kills a node there).
 * Tasks begun are finished, so an order's life is never cut short.
 */
export async function drive(
  node: () => ShopNode,
  tasks: readonly Task[],
  options: {
    concurrency?: number;
    onAnswer?: (answered: number) => void | Promise<void>;
    /** Start no further task once this says so (the tasks begun still finish). */
    enough?: () => boolean;
  } = {},
): Promise<DriveResult> {
  const result: DriveResult = { sent: 0, statuses: {}, surprises: [], head: 0 };
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !options.enough?.()) {
      const task = tasks[next++];
      for (const step of task) {
        const headers: Record<string, string> = step.idempotencyKey ? { 'idempotency-key': step.idempotencyKey } : {};
        let reply: Reply;
        try {
          reply = await node().command(step.name, step.body, headers);
        } catch (err) {
          result.surprises.push(`${step.name} ${JSON.stringify(step.body)}: ${(err as Error).message}`);
          continue;
        }
        result.sent++;
        result.statuses[reply.status] = (result.statuses[reply.status] ?? 0) + 1;
        if (!step.expect.includes(reply.status)) {
          result.surprises.push(`${step.name} ${JSON.stringify(step.body)} → ${reply.status} ${JSON.stringify(reply.body)}`);
        }
        if (reply.status === 200) result.head = Math.max(result.head, reply.body.position);
        await options.onAnswer?.(result.sent);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return result;
}

/** A query reading each projection of the Shop, to wait on all of them with minPosition. */
export const QUERY_PER_PROJECTION: ReadonlyArray<[projection: string, query: string, params: Record<string, string | number>]> = [
  ['customers', 'GetCustomerById', { customerId: 'nobody' }],
  ['catalog', 'ListAllProducts', { limit: 1 }],
  ['inventory', 'GetInventory', { productId: 'nothing' }],
  ['orders', 'GetOrderStatus', { orderId: 'none' }],
  ['sales', 'GetSalesSummary', {}],
];

/**
 * Resolves once each of `queries` run with `minPosition` answers (200, or 404 for the absent entity: the wait comes
 * first), retrying what answers 503 or 504 (not there yet) until `timeoutMs`.
 */
export async function waitForPosition(
  node: ShopNode,
  position: number,
  queries = QUERY_PER_PROJECTION,
  timeoutMs = 40_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const [projection, name, params] of queries) {
    for (;;) {
      const reply = await node
        .query(name, { ...params, minPosition: position }, { 'chronicle-wait-ms': '10000' })
        .catch((err: Error) => ({ status: 0, body: err.message }));
      if (reply.status === 200 || reply.status === 404) break;
      if (Date.now() > deadline || ![0, 503, 504].includes(reply.status)) {
        throw new Error(`${node.label}: ${projection} did not reach ${position}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
    }
  }
}

/** A SQLite read store as a test compares it: each projection's checkpoint, and every table's rows, sorted. */
export type ReadModels = { positions: Record<string, number>; tables: Record<string, string[]> };

// The Shop's read models. Where the projector runs on the event store, the workflows (process managers, the scheduler)
// keep their state in the same read store; a read node fed through JetStream runs none, so they are not compared.
const READ_MODELS = new Set(projections.map((p) => p.name));

/** Reads every table of every read model's served generation in the read store at `path` (read-only). */
export function readModels(path: string): ReadModels {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const records = (
      db.prepare('SELECT name, generation, position FROM chronicle_projections ORDER BY name').all() as Array<{
        name: string;
        generation: number;
        position: number;
      }>
    ).filter((r) => READ_MODELS.has(r.name));
    const positions: Record<string, number> = {};
    const tables: Record<string, string[]> = {};
    for (const { name, generation, position } of records) {
      positions[name] = position;
      const suffix = `__g${generation}`;
      const physical = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ? AND substr(name, -?) = ?")
        .pluck()
        .all(name.length + 2, `${name}__`, suffix.length, suffix) as string[];
      for (const table of physical.sort()) {
        const rows = db.prepare(`SELECT * FROM "${table}"`).all();
        tables[`${name}.${table.slice(name.length + 2, -suffix.length)}`] = rows.map((row) => JSON.stringify(row)).sort();
      }
    }
    return { positions, tables };
  } finally {
    db.close();
  }
}

/** The event log of the SQLite event store at `path`, whole, in position order. */
export async function eventLog(path: string): Promise<RecordedEvent[]> {
  const store = createSqliteEventStore({ path });
  try {
    const events: RecordedEvent[] = [];
    for (;;) {
      const page = await store.readAll({ from: (events.at(-1)?.position ?? 0) + 1, limit: 5000 });
      if (page.length === 0) return events;
      events.push(...page);
    }
  } finally {
    await store.close();
  }
}

/**
 * Waits until `node` (a process running the projector on the event store at `eventsPath`) has nothing left to do:
 * every projection it runs — the read models and the workflows — has passed the log's head, and the head did not move
 * meanwhile (a process manager's command would have moved it). Resolves with that head, the position to compare at.
 */
export async function settleNode(node: ShopNode, eventsPath: string, timeoutMs = 40_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const headOf = async () => {
    const store = createSqliteEventStore({ path: eventsPath });
    try {
      return await store.headPosition();
    } finally {
      await store.close();
    }
  };
  for (;;) {
    const head = await headOf();
    const ready = await node.get('/health/ready').catch(() => ({ status: 0, body: {} }) as Reply);
    const positions: number[] = (ready.body?.projections ?? []).map((p: { position: number }) => p.position);
    if (positions.length > 0 && positions.every((p) => p >= head) && (await headOf()) === head) return head;
    if (Date.now() > deadline) throw new Error(`${node.label} did not settle at ${head}: ${JSON.stringify(ready.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** On hand and reserved per product, summed straight from the log's stock events. */
export function stockFromLog(events: readonly RecordedEvent[]): Record<string, [number, number]> {
  const stock: Record<string, [number, number]> = {};
  const moves: Record<string, [number, number]> = {
    ProductRestocked: [1, 0],
    StockReserved: [0, 1],
    StockReleased: [0, -1],
    StockShipped: [-1, -1],
  };
  for (const { type, data } of events) {
    const { productId, quantity } = data as { productId: string; quantity: number };
    if (type === 'ProductCreated') stock[productId] = [0, 0];
    const move = moves[type];
    if (!move) continue;
    stock[productId][0] += move[0] * quantity;
    stock[productId][1] += move[1] * quantity;
  }
  return stock;
}

/** Polls `what` every 100 ms until it returns something other than undefined, or throws after `ms`. */
export async function eventually<T>(label: string, ms: number, what: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await what().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${label}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The relay's status as the node's /health/ready reports it. */
export async function relayStatus(node: ShopNode): Promise<{ state: string; position: number; lagEvents: number } | undefined> {
  const reply = await node.get('/health/ready');
  return reply.body?.checks?.relay;
}
