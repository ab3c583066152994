// `npm run bench:console`: page weight and server response time of the console's Overview, Streams and Stream pages
// over a real socket on a 100k-event SQLite store, each beside a bare better-sqlite3 baseline doing the same reads in
// the same run. One JSON line per measurement. `--quick`: 25k events.
// (Imports the driver for the baseline only, as raw-sqlite-baseline.ts does.)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createInMemoryReadStore, createProjector, type InMemoryReadTx, type Projection } from 'chronicle-es';
import { createApiKeyAuthenticator, createServer } from 'chronicle-es/http';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { quick } from './harness.js';

const EVENTS = quick ? 25_000 : 100_000;
const PER_STREAM = 10;
const REQUESTS = quick ? 20 : 50;
const CATEGORIES = ['order', 'cart', 'product', 'customer', 'payment'];
const KEY = 'bench-console-admin-key';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-console-'));
const path = join(dir, 'events.db');
const streamId = (s: number) => `${CATEGORIES[s % CATEGORIES.length]}-${String(s).padStart(7, '0')}`;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
function line(fields: Record<string, unknown>) {
  console.log(JSON.stringify({ ...fields, events: EVENTS, load1: +loadavg()[0].toFixed(2) }));
}

async function timeIt(run: () => Promise<number> | number): Promise<{ p50Ms: number; p99Ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  await run(); // warm-up: statements prepared, pages cached
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    bytes = await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50Ms: +percentile(times, 0.5).toFixed(2), p99Ms: +percentile(times, 0.99).toFixed(2), bytes };
}

async function main() {
  const store = createSqliteEventStore({ path, synchronous: 'normal' });
  const pending: Promise<unknown>[] = [];
  for (let s = 0; s < EVENTS / PER_STREAM; s++) {
    const events = Array.from({ length: PER_STREAM }, (_, i) => ({
      type: i === 0 ? 'Opened' : 'Changed',
      data: { stream: s, step: i, note: 'a line of text like an application writes', amountCents: 1000 + i },
      metadata: { correlationId: `flow-${s}` },
    }));
    pending.push(store.append(streamId(s), events));
    if (pending.length >= 200) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);

  const projection: Projection<InMemoryReadTx> = {
    name: 'openings',
    version: 1,
    handlers: { Opened: (event, tx) => tx.table<number>('open').set(event.streamId, event.position) },
    eventTypes: ['Opened'],
  };
  const projector = createProjector({ eventStore: store, readStore: createInMemoryReadStore(), projections: [projection] });
  await projector.start();
  await projector.waitForPosition(await store.headPosition(), { timeoutMs: 120_000 });

  const app = await createServer({
    logger: false,
    authenticate: createApiKeyAuthenticator({ [KEY]: { id: 'bench', roles: ['admin'] } }),
    console: { eventStore: store, projector, enabled: true },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  // Sign in as a browser would: the form's nonce cookie and token, then the session cookie.
  const form = await fetch(`${url}/console/login`);
  const nonce = (form.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const signIn = await fetch(`${url}/console/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: nonce, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, key: KEY }).toString(),
  });
  const cookie = signIn.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('chronicle_console='));
  if (signIn.status !== 303 || !cookie) throw new Error(`sign-in failed: ${signIn.status}`);

  const middle = streamId(Math.floor(EVENTS / PER_STREAM / 2));
  const pages: Array<[name: string, path: string]> = [
    ['overview', '/console'],
    ['streams', '/console/streams?category=order'],
    ['stream', `/console/streams/${middle}`],
  ];
  for (const [name, pagePath] of pages) {
    const result = await timeIt(async () => {
      const res = await fetch(url + pagePath, { headers: { cookie } });
      if (res.status !== 200) throw new Error(`${pagePath}: ${res.status}`);
      return Buffer.byteLength(await res.text());
    });
    line({
      name: `console:${name}`,
      path: pagePath,
      requests: REQUESTS,
      ...result,
      unit: 'ms per page over HTTP',
      ...(name !== 'stream' && { note: 'totals (overview, 1 s) and categories (streams, 5 s) are reused between views' }),
    });
  }
  // What the caches above save a view, read every time: the overview's numbers and the streams page's categories.
  const inspector = store.inspector();
  const uncached: Array<[string, () => Promise<number>]> = [
    [
      'overview-data',
      async () =>
        JSON.stringify(
          await Promise.all([
            inspector.stats(),
            inspector.writeRate({ windowMs: 600_000, bucketMs: 20_000 }),
            projector.status(),
          ]),
        ).length,
    ],
    ['categories', async () => JSON.stringify(await inspector.categories()).length],
    ['list-streams', async () => JSON.stringify(await inspector.listStreams({ category: 'order', limit: 50 })).length],
  ];
  for (const [name, run] of uncached) {
    line({ name: `inspector:${name}`, requests: REQUESTS, ...(await timeIt(run)), unit: 'ms per read, in process, no cache' });
  }
  let assets = 0;
  for (const asset of ['htmx.min.js', 'console.js', 'console.css']) {
    assets += Buffer.byteLength(await (await fetch(`${url}/console/assets/${asset}`)).text());
  }
  line({ name: 'console:assets', bytes: assets, note: 'htmx.min.js + console.js + console.css, cached an hour' });

  // The floor: the same rows read with the bare driver, no HTTP, no rendering.
  const db = new Database(path, { readonly: true });
  const count = db.prepare('SELECT count(*), max(position) FROM events');
  const streams = db.prepare('SELECT count(*) FROM events WHERE version = 1');
  const byCategory = db.prepare('SELECT category, count(*) FROM events GROUP BY category');
  const streamsByCategory = db.prepare(
    "SELECT substr(stream_id, 1, instr(stream_id, '-') - 1), count(*) FROM events WHERE version = 1 GROUP BY 1",
  );
  const list = db.prepare(
    `SELECT m.stream_id, m.v, e.position, json_extract(e.metadata, '$.timestamp') FROM
     (SELECT stream_id, max(version) AS v FROM events WHERE stream_id >= ? AND stream_id < ? GROUP BY stream_id
      ORDER BY stream_id LIMIT 51) m JOIN events e ON e.stream_id = m.stream_id AND e.version = m.v`,
  );
  const events = db.prepare('SELECT * FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 21');
  const baselines: Array<[string, () => number]> = [
    ['overview', () => JSON.stringify([count.get(), streams.get()]).length],
    ['categories', () => JSON.stringify([byCategory.all(), streamsByCategory.all()]).length],
    ['streams', () => JSON.stringify(list.all('order', 'order.')).length],
    [
      'stream',
      () =>
        JSON.stringify(
          (events.all(middle) as Array<{ data: string; metadata: string }>).map((r) => ({
            ...r,
            data: JSON.parse(r.data),
            metadata: JSON.parse(r.metadata),
          })),
        ).length,
    ],
  ];
  for (const [name, run] of baselines) {
    const result = await timeIt(run);
    line({ name: `bare-sqlite:${name}`, requests: REQUESTS, ...result, unit: 'ms per read, in process', note: 'baseline' });
  }
  db.close();
  await app.close();
  await projector.stop();
  await store.close();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
