// The CLI against a running Shop (a real child process on real SQLite files): a rebuild asked from the CLI is carried
// out by the Shop's own projector while the Shop goes on serving commands and queries, with progress to the swap;
// `events tail` follows commands live and stops cleanly on SIGINT; with no app running, a rebuild request is refused
// after its timeout instead of hanging, and nothing changes.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlRequest } from 'chronicle-es';
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShop } from '../../examples/shop/app.js';
import { type ShopProcess, startShopProcess } from '../../examples/shop/test/shop-process.js';
import { cli, cliProcess, json, oneLineFailure, spawnCli } from './cli-run.js';

const ADMIN = 'cli-test-admin-key-0123456789';
// Enough that a rebuild takes a while on a loaded machine, so its progress shows.
const CUSTOMERS = 20_000;

let dataDir: string;
let shop: ShopProcess;
let stores: string[];

const post = async (name: string, body: unknown) => {
  const res = await fetch(`${shop.url}/commands/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { position: number } };
};
const customer = async (customerId: string, minPosition = 0) => {
  const res = await fetch(`${shop.url}/queries/GetCustomerById?customerId=${customerId}&minPosition=${minPosition}`, {
    headers: { 'x-api-key': ADMIN, 'chronicle-wait-ms': '10000' },
  });
  return { status: res.status, body: (await res.json()) as { customerId?: string } };
};

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'chronicle-cli-shop-'));
  // Written through the Shop's own command bus, then served by the Shop as a separate process.
  const writer = await createShop({ dataDir, role: 'write' });
  try {
    const principal = { id: 'cli-test', roles: ['admin'] };
    for (let i = 0; i < CUSTOMERS; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          writer.commandBus.dispatch(
            'RegisterCustomer',
            { customerId: `c${i + j}`, name: `Customer ${i + j}`, email: `c${i + j}@example.com` },
            { principal },
          ),
        ),
      );
    }
  } finally {
    await writer.close();
  }
  shop = await startShopProcess({ dataDir, adminKey: ADMIN });
  stores = ['--store', join(dataDir, 'events.db'), '--read-store', join(dataDir, 'read.db')];
  // Caught up: the last customer answers.
  expect((await customer(`c${CUSTOMERS - 1}`, CUSTOMERS)).status).toBe(200);
}, 180_000);

afterAll(async () => {
  if (shop && shop.child.exitCode === null && shop.child.signalCode === null) {
    shop.child.kill('SIGTERM');
    await once(shop.child, 'exit');
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('chronicle against a running Shop', () => {
  it('shows every projection live, with its lag', async () => {
    const result = await cli(...stores, '--json', 'projections', 'status');
    expect(result.code, result.stderr).toBe(0);
    const { head, projections } = json(result);
    expect(head).toBeGreaterThanOrEqual(CUSTOMERS);
    const customers = projections.find((p: { name: string }) => p.name === 'customers');
    expect(customers).toMatchObject({ state: 'live', position: head, lagEvents: 0 });
  });

  it('rebuilds a projection from the CLI while the Shop serves, with progress to the swap', { timeout: 180_000 }, async () => {
    const before = json(await cli(...stores, '--json', 'projections', 'status', 'customers')).projections[0];
    const rebuild = spawnCli(...stores, '--json', 'projections', 'rebuild', 'customers', '--timeout', '20');
    const stderr: string[] = [];
    createInterface({ input: rebuild.stderr! }).on('line', (line) => stderr.push(line));
    let stdout = '';
    rebuild.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    const exited = once(rebuild, 'exit');

    // Meanwhile the Shop answers queries and takes commands, and reads its own writes.
    let served = 0;
    let written = 0;
    let finished = false;
    void exited.then(() => {
      finished = true;
    });
    const failures: string[] = [];
    while (!finished) {
      const id = `during-${written}`;
      const sent = await post('RegisterCustomer', { customerId: id, name: 'During Rebuild', email: `${id}@example.com` });
      if (sent.status !== 200) failures.push(`command ${sent.status}`);
      written++;
      const read = await customer(id, sent.body.position);
      if (read.status !== 200 || read.body.customerId !== id) failures.push(`query ${read.status}`);
      const old = await customer(`c${served % CUSTOMERS}`);
      if (old.status !== 200) failures.push(`query of an old customer ${old.status}`);
      served++;
    }
    const [code] = await exited;
    expect(code, stderr.join('\n')).toBe(0);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);

    const report = JSON.parse(stdout.trim());
    expect(report).toMatchObject({ projection: 'customers', action: 'rebuild' });
    expect(report.generation).toBeGreaterThan(before.generation);
    const progress = stderr.filter((l) => l.includes('"progress"')).map((l) => JSON.parse(l).progress);
    expect(progress.length, stderr.join('\n')).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p.label).toBe('rebuild customers');
      expect(p.done).toBeLessThanOrEqual(p.total);
      expect(typeof p.rate).toBe('number');
    }
    expect(stderr.some((l) => l.includes('taken by'))).toBe(true);

    // The new generation serves everything, the writes made during the rebuild included.
    const after = json(await cli(...stores, '--json', 'projections', 'status', 'customers')).projections[0];
    expect(after).toMatchObject({ state: 'live', generation: report.generation, lagEvents: 0 });
    expect((await customer(`during-${written - 1}`)).status).toBe(200);
    expect((await customer('c0')).status).toBe(200);
  });

  it('retries a projection that is not failed as a no-op, and refuses to skip one', async () => {
    const retried = await cliProcess(...stores, 'projections', 'retry', 'orders');
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain('retry of orders done');
    const skipped = await cli(...stores, 'projections', 'skip', 'orders');
    expect(oneLineFailure(skipped)).toContain('not stopped on a failed event');
  });

  it('refuses an unknown projection at once', async () => {
    expect(oneLineFailure(await cli(...stores, 'projections', 'rebuild', 'nothing_here'))).toContain('no projection');
  });

  it('tails commands live, filtered, and stops cleanly on SIGINT', { timeout: 60_000 }, async () => {
    const tail = spawnCli('--store', join(dataDir, 'events.db'), '--json', 'events', 'tail', '--category', 'customer');
    const lines: string[] = [];
    createInterface({ input: tail.stdout! }).on('line', (line) => lines.push(line));
    const notes: string[] = [];
    createInterface({ input: tail.stderr! }).on('line', (line) => notes.push(line));
    while (!notes.some((n) => n.includes('following from'))) await sleep(20);
    for (const id of ['tail-1', 'tail-2', 'tail-3']) {
      expect((await post('RegisterCustomer', { customerId: id, name: 'Tailed', email: `${id}@example.com` })).status).toBe(200);
    }
    const deadline = Date.now() + 20_000;
    while (lines.length < 3 && Date.now() < deadline) await sleep(20);
    const exited = once(tail, 'exit');
    tail.kill('SIGINT');
    const [code] = await exited;
    expect(code, notes.join('\n')).toBe(0);
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.streamId)).toEqual(['customer-tail-1', 'customer-tail-2', 'customer-tail-3']);
    expect(events.every((e) => e.type === 'CustomerRegistered')).toBe(true);
    expect(notes.at(-1)).toContain('stopped after 3 events');
  });

  it('with the Shop stopped, a rebuild is refused after its timeout and nothing changes', { timeout: 60_000 }, async () => {
    shop.child.kill('SIGTERM');
    await once(shop.child, 'exit');
    const before = json(await cli(...stores, '--json', 'projections', 'status', 'customers')).projections[0];
    const result = await cliProcess(...stores, 'projections', 'rebuild', 'customers', '--timeout', '1');
    expect(result.code).toBe(3);
    expect(oneLineFailure(result)).toContain('no running projector took the rebuild request');
    const after = json(await cli(...stores, '--json', 'projections', 'status', 'customers')).projections[0];
    expect(after).toMatchObject({ generation: before.generation, position: before.position });
    // The request was withdrawn, so an app started later does not act on it.
    const read = createSqliteReadStore({ path: join(dataDir, 'read.db') });
    try {
      const pending: ControlRequest[] = await read.control.pending();
      expect(pending.filter((r) => r.projection === 'customers')).toEqual([]);
    } finally {
      await read.close();
    }
  });

  it('withdraws a request still waiting when interrupted with SIGINT', { timeout: 60_000 }, async () => {
    const rebuild = spawnCli(...stores, 'projections', 'rebuild', 'customers', '--timeout', '30');
    const stderr: string[] = [];
    createInterface({ input: rebuild.stderr! }).on('line', (line) => stderr.push(line));
    const exited = once(rebuild, 'exit');
    while (!stderr.some((l) => l.includes('waiting up to'))) await sleep(20);
    rebuild.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(130);
    expect(stderr.at(-1)).toBe('error: interrupted: the rebuild request was withdrawn, nothing was done');
    const read = createSqliteReadStore({ path: join(dataDir, 'read.db') });
    try {
      expect((await read.control.pending()).filter((r) => r.projection === 'customers')).toEqual([]);
    } finally {
      await read.close();
    }
  });
});
