// SIGKILL of the Shop's projector process while the fulfilment process turns a backlog of paid orders into
// AllocateShipment commands: killed twice at random points, restarted each time, every paid order ends with exactly one
// ShipmentAllocated — none lost (the checkpoint never passes an event whose command was not sent), none twice (a
// command re-sent after a crash carries the key of its first sending, so it takes effect once).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandBus, type EventStore, type Principal } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../commands.js';
import { startShopProcess } from './shop-process.js';

const ADMIN = 'sigkill-admin-key-0123456789';
const ORDERS = 300;
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
        const { orderId } = e.data as { orderId: string };
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

/** The projector role over `dataDir`: it runs the read models and the workflows, and serves only health and metrics. */
async function startProjector() {
  const shop = await startShopProcess({ dataDir, adminKey: ADMIN, env: { SHOP_ROLE: 'project' }, startTimeoutMs: 30_000 });
  children.push(shop.child);
  return shop;
}

describe('SIGKILL while the fulfilment process is sending', () => {
  it('every paid order ends with exactly one ShipmentAllocated, across two kills and restarts', async () => {
    // The write side, here in the test: 300 orders placed and paid before any projector runs, so the fulfilment
    // process finds them as one backlog to turn into commands.
    store = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    const bus = createCommandBus();
    registerCommands(bus, store);
    const send = (name: string, payload: unknown) => bus.dispatch(name, payload, { principal: admin });
    await send('RegisterCustomer', { customerId: 'kim', name: 'Kim', email: 'kim@example.com' });
    await send('CreateProduct', { productId: 'bulk', sku: 'BULK', name: 'Bulk item', priceCents: 100, currency: 'EUR' });
    await send('RestockProduct', { productId: 'bulk', quantity: 1_000_000 });
    for (let i = 0; i < ORDERS; i++) {
      await send('CreateOrder', { orderId: `k-${i}`, customerId: 'kim', lines: [{ productId: 'bulk', quantity: 1 }] });
      await send('PayOrder', { orderId: `k-${i}` });
    }

    const seen = allocations(store);
    const kills: number[] = [];
    for (let round = 0; round < 2; round++) {
      const already = await seen.poll();
      // A random point in what is left, well before the end, so the kill lands while commands are in flight.
      const target = already + 1 + Math.floor(Math.random() * Math.min(120, (ORDERS - already) / 2));
      const shop = await startProjector();
      for (;;) {
        const total = await seen.poll();
        if (total >= target) break;
        if (shop.child.exitCode !== null) throw new Error(`projector exited early: ${shop.logs.join('\n')}`);
        await sleep(2);
      }
      shop.child.kill('SIGKILL');
      await new Promise((resolve) => shop.child.once('exit', resolve));
      kills.push(await seen.poll());
    }
    // Both kills came while work was left: otherwise this would prove nothing.
    expect(kills[1]).toBeLessThan(ORDERS);

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
    // Nothing else went wrong on the way: no refused allocation (every order was paid), and all read models live.
    const ready = await fetch(`${last.url}/health/ready`);
    expect(ready.status).toBe(200);
  }, 120_000);
});
