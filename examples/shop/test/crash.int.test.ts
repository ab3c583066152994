// kill -9 in the middle of a stream of commands loses no acknowledged command, and the read side catches up.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { startShopProcess } from './shop-process.js';

const ADMIN = 'crash-admin-key-0123456789';
const dataDirs: string[] = [];
const children: ChildProcess[] = [];
const freshDataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'shop-crash-'));
  dataDirs.push(dir);
  return dir;
};

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** The Shop over `dataDir`; `dieAfterAcks` preloads die-after-ack.ts: it SIGKILLs itself right after that many acknowledgements. */
async function startServer(
  dataDir: string,
  options: { dieAfterAcks?: number } = {},
): Promise<{ url: string; child: ChildProcess }> {
  const dying = options.dieAfterAcks !== undefined;
  const shop = await startShopProcess({
    dataDir,
    adminKey: ADMIN,
    preload: dying ? ['./examples/shop/test/die-after-ack.ts'] : [],
    env: dying ? { SHOP_TEST_DIE_AFTER_ACKS: String(options.dieAfterAcks) } : {},
  });
  children.push(shop.child);
  return shop;
}

const post = (url: string, name: string, body: unknown) =>
  fetch(`${url}/commands/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
    body: JSON.stringify(body),
  });
const get = async (url: string, name: string, params: Record<string, string | number>) => {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await fetch(`${url}/queries/${name}?${qs}`, { headers: { 'x-api-key': ADMIN, 'chronicle-wait-ms': '10000' } });
  return { status: res.status, body: (await res.json()) as any };
};

describe('SIGKILL during a stream of commands', () => {
  it('keeps every acknowledged command; the read side catches up after restart', async () => {
    const dataDir = freshDataDir();
    const first = await startServer(dataDir);
    expect(
      (await post(first.url, 'RegisterCustomer', { customerId: 'crash', name: 'Crash Test', email: 'crash@example.com' })).status,
    ).toBe(200);
    await post(first.url, 'CreateProduct', {
      productId: 'crash-p',
      sku: 'CRASH-P',
      name: 'Crash item',
      priceCents: 100,
      currency: 'EUR',
    });
    expect((await post(first.url, 'RestockProduct', { productId: 'crash-p', quantity: 1_000_000 })).status).toBe(200);

    // Eight clients send orders and registrations as fast as they can; the server is killed under them.
    const acked: Array<{ kind: 'order' | 'customer'; id: string; position: number }> = [];
    let sent = 0;
    let killed = false;
    const client = async (worker: number) => {
      for (let i = 0; !killed; i++) {
        const id = `w${worker}-${i}`;
        const isOrder = i % 4 !== 3;
        sent++;
        try {
          const res = isOrder
            ? await post(first.url, 'CreateOrder', {
                orderId: id,
                customerId: 'crash',
                lines: [{ productId: 'crash-p', quantity: 1 }],
              })
            : await post(first.url, 'RegisterCustomer', { customerId: id, name: `Customer ${id}`, email: `${id}@example.com` });
          if (res.status === 200)
            acked.push({
              kind: isOrder ? 'order' : 'customer',
              id,
              position: ((await res.json()) as { position: number }).position,
            });
          else throw new Error(`unexpected ${res.status} ${await res.text()}`);
        } catch (err) {
          if (!killed) throw err;
        }
      }
    };
    let failure: unknown;
    const clients = Array.from({ length: 8 }, (_, w) =>
      client(w).catch((err) => {
        failure = err;
      }),
    );
    while (acked.length < 300 && failure === undefined) await new Promise((r) => setTimeout(r, 5));
    expect(failure).toBeUndefined();
    killed = true;
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await Promise.all([exited, ...clients]);
    expect(first.child.signalCode).toBe('SIGKILL');
    // Some requests were in flight when the process died: they were never acknowledged.
    expect(sent).toBeGreaterThan(acked.length);

    const second = await startServer(dataDir);
    try {
      const head = Math.max(...acked.map((a) => a.position));
      for (const a of acked) {
        const res =
          a.kind === 'order'
            ? await get(second.url, 'GetOrderStatus', { orderId: a.id, minPosition: head })
            : await get(second.url, 'GetCustomerById', { customerId: a.id, minPosition: head });
        expect(res.status, `${a.kind} ${a.id} acknowledged at ${a.position}`).toBe(200);
      }
      // The restarted server keeps working; its write is the last event, so reading at its position sees everything.
      const after = await post(second.url, 'CreateOrder', {
        orderId: 'after',
        customerId: 'crash',
        lines: [{ productId: 'crash-p', quantity: 1 }],
      });
      expect(after.status).toBe(200);
      const last = ((await after.json()) as { position: number }).position;
      // The read side agrees with itself: every order it knows reserved exactly one unit.
      const customer = await get(second.url, 'GetCustomerById', { customerId: 'crash', minPosition: last });
      const inventory = await get(second.url, 'GetInventory', { productId: 'crash-p', minPosition: last });
      expect(customer.body.orderCount).toBeGreaterThan(acked.filter((a) => a.kind === 'order').length);
      expect(inventory.body.reserved).toBe(customer.body.orderCount);
    } finally {
      const exited = new Promise((resolve) => second.child.once('exit', resolve));
      second.child.kill('SIGTERM');
      await exited;
    }
    expect(second.child.exitCode).toBe(0);
  }, 60_000);

  it('keeps the acknowledgement the server died right after, and every one before it', async () => {
    // Setup is three acknowledgements; the server dies right after the 200th order or registration is acknowledged,
    // while the other clients' commands are in flight — in its group commit, or already acknowledged beside it.
    const SETUP = 3;
    const dataDir = freshDataDir();
    const server = await startServer(dataDir, { dieAfterAcks: SETUP + 200 });
    const stderr: string[] = [];
    createInterface({ input: server.child.stderr! }).on('line', (line) => stderr.push(line));
    const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
    expect(
      (await post(server.url, 'RegisterCustomer', { customerId: 'ack', name: 'Ack', email: 'ack@example.com' })).status,
    ).toBe(200);
    const product = { productId: 'ack-p', sku: 'ACK-P', name: 'Ack item', priceCents: 100, currency: 'EUR' };
    expect((await post(server.url, 'CreateProduct', product)).status).toBe(200);
    expect((await post(server.url, 'RestockProduct', { productId: 'ack-p', quantity: 1_000_000 })).status).toBe(200);

    type Ack = { streamId: string; version: number; position: number };
    const acked: Ack[] = [];
    const unexpected: string[] = [];
    const client = async (worker: number) => {
      for (let i = 0; ; i++) {
        const id = `a${worker}-${i}`;
        let res: Response;
        try {
          res =
            i % 4 === 3
              ? await post(server.url, 'RegisterCustomer', { customerId: id, name: `Customer ${id}`, email: `${id}@example.com` })
              : await post(server.url, 'CreateOrder', {
                  orderId: id,
                  customerId: 'ack',
                  lines: [{ productId: 'ack-p', quantity: 1 }],
                });
        } catch {
          return; // the connection died with the server: never acknowledged
        }
        if (res.status !== 200) unexpected.push(`${res.status} ${await res.text()}`);
        else acked.push((await res.json()) as Ack);
      }
    };
    await Promise.all([...Array.from({ length: 8 }, (_, w) => client(w)), exited]);
    expect(unexpected).toEqual([]);
    expect(server.child.signalCode).toBe('SIGKILL');
    const last = stderr.find((line) => line.startsWith('die-after-ack '));
    expect(last, stderr.join('\n')).toBeDefined();
    const fatal = JSON.parse(last!.slice('die-after-ack '.length)) as Ack;
    expect(fatal.streamId).toMatch(/^(order|customer)-a\d+-\d+$/);

    // Read the event log the dead server left, as the next process would open it.
    const store = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    try {
      for (const ack of [fatal, ...acked]) {
        const info = await store.streamInfo(ack.streamId);
        expect(info.version, `${ack.streamId} acknowledged at position ${ack.position}`).toBe(ack.version);
        const [first] = await store.readStream(ack.streamId, { limit: 1 });
        expect(first.position).toBeLessThanOrEqual(ack.position);
      }
      expect(await store.headPosition()).toBeGreaterThanOrEqual(Math.max(fatal.position, ...acked.map((a) => a.position)));
    } finally {
      await store.close();
    }
  }, 60_000);
});
