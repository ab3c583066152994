// Shop processes on PostgreSQL for the scale-out tests: the event store and the read store in two databases of the
// test server, one fresh schema in each, and nodes of any role started as real OS processes over them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureDatabase, freshSchemaName } from '../../../test/support/postgres.js';
import type { ShopRole } from '../app.js';
import { type ShopProcess, startShopProcess } from './shop-process.js';

export const ADMIN = 'cluster-admin-key-0123456789';

export type Node = ShopProcess & {
  role: ShopRole;
  /** POST /commands/{name} as admin: the status and the parsed body. */
  command(name: string, body: unknown): Promise<{ status: number; body: any; type: string | null }>;
  /** GET /queries/{name} as admin, waiting up to 20 s for `minPosition` when given. */
  query(name: string, params: Record<string, string | number>): Promise<{ status: number; body: any }>;
  /** Any GET as admin, as text. */
  get(path: string): Promise<{ status: number; text: string }>;
  /** SIGKILL: no shutdown, no lease released. */
  kill(): Promise<void>;
};

export type Cluster = {
  eventsUrl: string;
  readUrl: string;
  /** The schema both stores use (each in its own database). */
  schema: string;
  start(role: ShopRole, env?: NodeJS.ProcessEnv): Promise<Node>;
  /** Stops every node still running and drops the schemas (and any `extraReadSchemas`). */
  close(extraReadSchemas?: readonly string[]): Promise<void>;
};

/** The two databases (created if missing), a fresh schema name, and a way to start nodes over them. */
export async function createCluster(): Promise<Cluster> {
  const eventsUrl = await ensureDatabase('chronicle_shop_events');
  const readUrl = await ensureDatabase('chronicle_shop_read');
  const schema = freshSchemaName('shop');
  const dataDir = mkdtempSync(join(tmpdir(), 'shop-cluster-'));
  const nodes: Node[] = [];

  return {
    eventsUrl,
    readUrl,
    schema,
    async start(role, env = {}) {
      const started = await startShopProcess({
        dataDir,
        adminKey: ADMIN,
        // Six of them on two cores shared with other test files: starting (tsx compiling the Shop) can take a while.
        startTimeoutMs: 60_000,
        env: {
          SHOP_ROLE: role,
          CHRONICLE_EVENT_STORE: eventsUrl,
          CHRONICLE_READ_STORE: readUrl,
          CHRONICLE_PG_SCHEMA: schema,
          // Six processes with up to two pools each, plus the test's own and another test file's: stay well inside
          // the server's max_connections of 100.
          CHRONICLE_PG_POOL_SIZE: '4',
          ...env,
        },
      }).catch((err: Error) => {
        throw new Error(`${role} node: ${err.message}`);
      });
      const node = nodeOf(role, started);
      nodes.push(node);
      return node;
    },
    async close(extraReadSchemas = []) {
      await Promise.all(nodes.map((node) => stop(node)));
      rmSync(dataDir, { recursive: true, force: true });
      await dropSchemas(eventsUrl, [schema]);
      await dropSchemas(readUrl, [schema, ...extraReadSchemas]);
    },
  };
}

function nodeOf(role: ShopRole, started: ShopProcess): Node {
  const headers = { 'x-api-key': ADMIN };
  return {
    ...started,
    role,
    async command(name, body) {
      const res = await fetch(`${started.url}/commands/${name}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json(), type: res.headers.get('content-type') };
    },
    async query(name, params) {
      const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
      const res = await fetch(`${started.url}/queries/${name}?${qs}`, { headers: { ...headers, 'chronicle-wait-ms': '20000' } });
      return { status: res.status, body: await res.json() };
    },
    async get(path) {
      const res = await fetch(started.url + path, { headers });
      return { status: res.status, text: await res.text() };
    },
    async kill() {
      const exited = new Promise((resolve) => started.child.once('exit', resolve));
      started.child.kill('SIGKILL');
      await exited;
    },
  };
}

async function stop(node: Node): Promise<void> {
  const { child } = node;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function dropSchemas(connectionString: string, schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs `tasks` with at most `concurrency` in flight, in order of start; resolves with their results in task order. */
export async function pool<T>(concurrency: number, tasks: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/** Polls `probe` every 100 ms until it returns a value other than undefined; throws after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
