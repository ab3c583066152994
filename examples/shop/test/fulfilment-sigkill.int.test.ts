// SIGKILL of the Shop's projector process while the fulfilment process turns a backlog of paid orders into
// AllocateShipment commands: killed twice at random points of that work, restarted each time, every paid order ends
// with exactly one ShipmentAllocated — none lost (the checkpoint never passes an event whose command was not sent),
// none twice (a command re-sent after a crash carries the key of its first sending, so it takes effect once).
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { COMMAND_REFUSED, createCommandBus, type EventStore, type Principal, validate } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../commands.js';
import { ShipmentAllocated } from '../messages/fulfilment.js';
import { OrderPaid } from '../messages/orders.js';
import { startShopProcess } from './shop-process.js';

const ADMIN = 'sigkill-admin-key-0123456789';
const ORDERS = 500;
const admin: Principal = { id: 'root', roles: ['admin'] };
const dataDir = mkdtempSync(join(tmpdir(), 'shop-fulfilment-kill-'));
const children: ChildProcess[] = [];
let store: EventStore | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Follows the log's ShipmentAllocated events as they are written, by order id. */
function allocations(events: EventStore) {
  const byOrder = new Map<string, number>();
  let from = 1;
  return {
    byOrder,
    async poll(): Promise<number> {
      const batch = await events.readAll({ from, filter: { types: ['ShipmentAllocated'] } });
      for (const e of batch) {
        const { orderId } = validate(ShipmentAllocated, e.data);
        byOrder.set(orderId, (byOrder.get(orderId) ?? 0) + 1);
        from = e.position + 1;
      }
      let total = 0;
      for (const n of byOrder.values()) total += n;
      return total;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where the fulfilment process's checkpoint stands in read.db (0 before its first commit), read as the child writes. */
function fulfilmentCheckpoint(): number {
  const path = join(dataDir, 'read.db');
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT position FROM chronicle_projections WHERE name = ?').get('fulfilment') as
      | { position: number }
      | undefined;
    return row?.position ?? 0;
  } catch {
    // The table is not there yet: the child is still creating the store.
    return 0;
  } finally {
    db.close();
  }
}

/** The projector role over `dataDir`: it runs the read models and the workflows, and serves only health and metrics. */
function startProjector(onSpawn?: (child: ChildProcess) => void) {
  return startShopProcess({
    dataDir,
    adminKey: ADMIN,
    env: { SHOP_ROLE: 'project' },
    startTimeoutMs: 30_000,
    onSpawn: (child) => {
      children.push(child);
      onSpawn?.(child);
    },
  });
}

describe('SIGKILL while the fulfilment process is sending', () => {
  it('every paid order ends with exactly one ShipmentAllocated, across two kills and restarts', async () => {
    // The write side, here in the test: 500 orders placed and paid before any projector runs, so the fulfilment
    // process finds them as one backlog to turn into commands.
    store = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    const bus = createCommandBus();
    registerCommands(bus, store);
    const send = (name: string, payload: unknown) => bus.dispatch(name, payload, { principal: admin });
    await send('RegisterCustomer', { customerId: 'kim', name: 'Kim', email: 'kim@example.com' });
    await send('CreateProduct', { productId: 'bulk', sku: 'BULK', name: 'Bulk item', priceCents: 100, currency: 'EUR' });
    await send('RestockProduct', { productId: 'bulk', quantity: 1_000_000 });
    // Where each order's OrderPaid is: the event whose step sends its AllocateShipment.
    const paidAt = new Map<string, number>();
    for (let i = 0; i < ORDERS; i++) {
      await send('CreateOrder', { orderId: `k-${i}`, customerId: 'kim', lines: [{ productId: 'bulk', quantity: 1 }] });
      await send('PayOrder', { orderId: `k-${i}` });
    }
    for (const e of await store.readAll({ filter: { types: ['OrderPaid'] } })) {
      paidAt.set(validate(OrderPaid, e.data).orderId, e.position);
    }
    // Some order is allocated whose OrderPaid the process has not checkpointed: it sent, and has not committed.
    const inWindow = () => {
      const checkpoint = fulfilmentCheckpoint();
      for (const orderId of seen.byOrder.keys()) if ((paidAt.get(orderId) ?? 0) > checkpoint) return true;
      return false;
    };

    const seen = allocations(store);
    const kills: Array<{ allocated: number; inWindow: boolean }> = [];
    for (let round = 0; round < 2; round++) {
      const already = await seen.poll();
      // Killed the moment it has sent commands it has not checkpointed (the window a crash must not duplicate or lose
      // anything in), or else at a random point in what is left. The process starts on the backlog as soon as it is
      // up (before it listens), so the log is watched from the moment it is spawned.
      const target = already + 1 + Math.floor(Math.random() * Math.min(200, (ORDERS - already) / 2));
      let child: ChildProcess | undefined;
      const starting = startProjector((c) => {
        child = c;
      }).catch(() => undefined);
      for (;;) {
        const total = await seen.poll();
        if ((total > already && inWindow()) || total >= target) break;
        if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`projector exited: ${child.exitCode}`);
        await sleep(1);
      }
      child!.kill('SIGKILL');
      await Promise.all([new Promise((resolve) => child!.once('exit', resolve)), starting]);
      kills.push({ allocated: await seen.poll(), inWindow: inWindow() });
    }
    // Both kills came while allocations were still being sent: otherwise this would prove nothing.
    expect(kills[0].allocated).toBeLessThan(ORDERS);
    expect(kills[1].allocated).toBeLessThan(ORDERS);
    expect(kills[1].allocated).toBeGreaterThan(kills[0].allocated);
    // And at least one (in practice both) between sending and checkpointing: the restart had to send those again.
    expect(kills.some((k) => k.inWindow)).toBe(true);

    const last = await startProjector();
    const head = async () => store!.headPosition();
    const fulfilmentPosition = async () => {
      const res = await fetch(`${last.url}/health/ready`);
      const body = (await res.json()) as { projections?: Array<{ name: string; position: number }> };
      return body.projections?.find((p) => p.name === 'fulfilment')?.position ?? 0;
    };
    const deadline = Date.now() + 60_000;
    // Done when every order is allocated and the process has checkpointed past the whole log, which then stays put.
    for (;;) {
      const h = await head();
      if ((await seen.poll()) >= ORDERS && (await fulfilmentPosition()) >= h && (await head()) === h) break;
      if (Date.now() > deadline) throw new Error(`not done: ${seen.byOrder.size} allocated; ${last.logs.slice(-5).join('\n')}`);
      await sleep(50);
    }
    const counts = [...seen.byOrder.values()];
    expect(seen.byOrder.size).toBe(ORDERS);
    expect(counts.filter((n) => n !== 1)).toEqual([]);
    for (let i = 0; i < ORDERS; i++) expect(seen.byOrder.get(`k-${i}`), `k-${i}`).toBe(1);
    // Nothing else went wrong on the way: no refused allocation (every order was paid), and every projection is live.
    expect(await store.readAll({ filter: { types: [COMMAND_REFUSED] } })).toEqual([]);
    const ready = await fetch(`${last.url}/health/ready`);
    expect(ready.status).toBe(200);
    console.log(JSON.stringify({ test: 'fulfilment-sigkill', orders: ORDERS, kills }));
  }, 120_000);
});
