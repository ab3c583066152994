// The order lifecycle the Shop runs by itself, over a real socket with a clock the test moves: an unpaid order expires
// once its timeout passes and frees its stock; a paid one does not expire, is allocated, shipped and its customer
// notified; an order called off before its allocation is never allocated; stock falling low raises an alert that a
// restock clears. Every step is read back through the HTTP queries, as a client sees it.
import { COMMAND_REFUSED, processStreamId, validate } from 'chronicle-es';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OrderExpired } from '../messages/orders.js';
import { given, KEYS, startShop, type TestShop } from './support.js';

const TIMEOUT_MS = 60_000;
let now = Date.now();
let shop: TestShop;

beforeAll(async () => {
  shop = await startShop({ clock: () => now, paymentTimeoutMs: TIMEOUT_MS, lowStockThreshold: 5 });
  await given(shop, {
    customers: ['wf-ada'],
    products: [
      { productId: 'wf-kettle', stock: 10 },
      { productId: 'wf-cup', stock: 20 },
      { productId: 'wf-lamp', stock: 6 },
    ],
  });
});
afterAll(() => shop?.close());
// Each test starts with the clock at real time, standing still: only the test moves it, so nothing placed later is
// due by accident because an earlier test moved the clock on.
beforeEach(() => {
  now = Date.now();
});

/** Retries `read` until `done` holds of its result, for what the workflows do in their own time. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ok = async (name: string, body: unknown, key: string = KEYS.admin) => {
  const res = await shop.command(name, body, { key });
  expect(res.status, `${name} → ${JSON.stringify(res.body)}`).toBe(200);
  return res.body as { position: number };
};
const orderStatus = async (orderId: string) => {
  const res = await shop.query('GetOrderStatus', { orderId, minPosition: await shop.eventCount() });
  expect(res.status).toBe(200);
  return res.body;
};
const inventory = async (productId: string) =>
  (await shop.query('GetInventory', { productId, minPosition: await shop.eventCount() })).body;
const steps = (order: { timeline: Array<{ step: string }> }) => order.timeline.map((s) => s.step);
const pending = async () => (await shop.shop.workflows.status()).schedules;

describe('an unpaid order', () => {
  it('expires once the clock passes its payment timeout, and its stock returns', async () => {
    await ok('CreateOrder', { orderId: 'wf-1', customerId: 'wf-ada', lines: [{ productId: 'wf-kettle', quantity: 3 }] });
    const created = await orderStatus('wf-1');
    expect(created).toMatchObject({ status: 'created', timeline: [{ step: 'created' }] });
    const placedAt = Date.parse(created.timeline[0].at);
    expect(created.paymentDueAt).toBe(new Date(placedAt + TIMEOUT_MS).toISOString());
    expect(await inventory('wf-kettle')).toMatchObject({ onHand: 10, reserved: 3, available: 7 });

    // A second before it is due nothing fires, however often the scheduler looks.
    now = placedAt + TIMEOUT_MS - 1_000;
    await shop.shop.workflows.fireDue();
    await shop.settle();
    expect((await orderStatus('wf-1')).status).toBe('created');
    expect((await pending()).overdue).toBe(0);

    // Past it, the scheduler sends ExpireOrder as the workflows principal.
    now = placedAt + TIMEOUT_MS + 1_000;
    const expired = await eventually(
      () => orderStatus('wf-1'),
      (o) => o.status === 'expired',
    );
    expect(expired).toMatchObject({ paymentDueAt: null });
    expect(expired.history.map((h: { status: string }) => h.status)).toEqual(['created', 'expired']);
    expect(steps(expired)).toEqual(['created', 'expired']);
    expect(await inventory('wf-kettle')).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
    await shop.settle();
    expect((await pending()).overdue).toBe(0);
    // It fired once: one ScheduleFired, one OrderExpired.
    const log = await shop.shop.eventStore.readAll();
    const expiries = log.filter((e) => e.type === 'OrderExpired').map((e) => validate(OrderExpired, e.data).orderId);
    expect(expiries.filter((id) => id === 'wf-1')).toHaveLength(1);
    expect(log.filter((e) => e.streamId === 'chronicle.schedule-expire-order-wf-1').map((e) => e.type)).toEqual([
      'chronicle.CommandScheduled',
      'chronicle.ScheduleFired',
    ]);

    // Closed: it can no longer be paid.
    const pay = await shop.command('PayOrder', { orderId: 'wf-1' });
    expect(pay).toMatchObject({ status: 422, body: { detail: expect.stringContaining('order is expired') } });
  });
});

describe('a paid order', () => {
  it('does not expire: it is allocated, shipped, and its customer notified — all in its timeline', async () => {
    await ok('CreateOrder', { orderId: 'wf-2', customerId: 'wf-ada', lines: [{ productId: 'wf-cup', quantity: 2 }] });
    const placedAt = Date.parse((await orderStatus('wf-2')).timeline[0].at);
    await ok('PayOrder', { orderId: 'wf-2' });
    const allocated = await eventually(
      () => orderStatus('wf-2'),
      (o) => steps(o).includes('allocated'),
    );
    expect(steps(allocated)).toEqual(['created', 'paid', 'allocated']);
    expect(allocated.paymentDueAt).toBeNull();

    // Its timeout passes: the payment cancelled the expiry, so nothing fires and the order stays paid.
    now = Math.max(now, placedAt + TIMEOUT_MS * 2);
    await shop.shop.workflows.fireDue();
    await shop.settle();
    expect((await orderStatus('wf-2')).status).toBe('paid');
    expect((await shop.shop.eventStore.readStream('chronicle.schedule-expire-order-wf-2')).map((e) => e.type)).toEqual([
      'chronicle.CommandScheduled',
      'chronicle.ScheduleCancelled',
    ]);

    await ok('ShipOrder', { orderId: 'wf-2' }, KEYS.clerk);
    const notified = await eventually(
      () => orderStatus('wf-2'),
      (o) => steps(o).includes('customer-notified'),
    );
    expect(notified.status).toBe('shipped');
    expect(notified.history.map((h: { status: string }) => h.status)).toEqual(['created', 'paid', 'shipped']);
    expect(steps(notified)).toEqual(['created', 'paid', 'allocated', 'shipped', 'customer-notified']);
    // The timeline is in the order things happened.
    const times = notified.timeline.map((s: { at: string }) => Date.parse(s.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // The outbox holds one notification for the mailer, addressed as the customer is registered.
    await shop.settle();
    const outbox = await shop.shop.eventStore.readStream('notification-wf-2');
    expect(outbox.map((e) => [e.type, e.data])).toEqual([
      [
        'CustomerNotified',
        { orderId: 'wf-2', customerId: 'wf-ada', name: 'Customer wf-ada', email: 'wf-ada@example.com', topic: 'order-shipped' },
      ],
    ]);
    expect((await shop.shop.eventStore.readStream('shipment-wf-2')).map((e) => e.type)).toEqual(['ShipmentAllocated']);
    expect(await inventory('wf-cup')).toMatchObject({ onHand: 18, reserved: 0 });
  });

  it('cancelled before the fulfilment process saw the payment, is never allocated', async () => {
    await ok('CreateOrder', { orderId: 'wf-3', customerId: 'wf-ada', lines: [{ productId: 'wf-cup', quantity: 1 }] });
    await shop.settle();
    // The process is held back while the order is paid and cancelled; when it catches up the order is called off.
    await shop.shop.projector.stop();
    const events = shop.shop.eventStore;
    await shop.shop.commandBus.dispatch('PayOrder', { orderId: 'wf-3' }, { principal: { id: 'root', roles: ['admin'] } });
    await shop.shop.commandBus.dispatch('CancelOrder', { orderId: 'wf-3' }, { principal: { id: 'root', roles: ['admin'] } });
    await shop.shop.projector.start();
    await shop.settle();
    expect(await events.readStream('shipment-wf-3')).toEqual([]);
    // The refusal is recorded on the process's own stream, and the process gave up on the order.
    const refusals = await events.readStream(processStreamId('fulfilment', 'wf-3'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      type: COMMAND_REFUSED,
      data: { process: 'fulfilment', code: 'DOMAIN_RULE', command: { type: 'AllocateShipment', data: { orderId: 'wf-3' } } },
    });
    const order = await orderStatus('wf-3');
    expect(steps(order)).toEqual(['created', 'paid', 'cancelled']);
    expect(await inventory('wf-cup')).toMatchObject({ onHand: 18, reserved: 0 });
  });

  it('cancelled after its allocation, has its shipment released', async () => {
    await ok('CreateOrder', { orderId: 'wf-4', customerId: 'wf-ada', lines: [{ productId: 'wf-cup', quantity: 1 }] });
    await ok('PayOrder', { orderId: 'wf-4' });
    await eventually(
      () => orderStatus('wf-4'),
      (o) => steps(o).includes('allocated'),
    );
    await ok('CancelOrder', { orderId: 'wf-4' });
    const released = await eventually(
      () => orderStatus('wf-4'),
      (o) => steps(o).includes('shipment-released'),
    );
    expect(steps(released)).toEqual(['created', 'paid', 'allocated', 'cancelled', 'shipment-released']);
    expect((await events()).filter((e) => e.streamId === 'shipment-wf-4').map((e) => e.type)).toEqual([
      'ShipmentAllocated',
      'ShipmentReleased',
    ]);
  });
});

const events = () => shop.shop.eventStore.readAll();

describe('low stock', () => {
  it('raises an alert once when available stock falls below the threshold, and clears it when restocked', async () => {
    expect((await inventory('wf-lamp')).lowStock).toBeNull();
    await ok('CreateOrder', { orderId: 'wf-5', customerId: 'wf-ada', lines: [{ productId: 'wf-lamp', quantity: 2 }] });
    const low = await eventually(
      () => inventory('wf-lamp'),
      (i) => i.lowStock !== null,
    );
    expect(low).toMatchObject({ available: 4, lowStock: { threshold: 5, since: expect.any(String) } });
    const listed = await shop.query('ListLowStock', { minPosition: await shop.eventCount() }, { key: KEYS.reader });
    expect(listed.body.items).toContainEqual({
      productId: 'wf-lamp',
      onHand: 6,
      reserved: 2,
      available: 4,
      threshold: 5,
      since: low.lowStock.since,
    });
    expect((await shop.query('ListLowStock', {}, { key: KEYS.ada })).status).toBe(403);

    // Lower still: the alert is open already, nothing more is recorded.
    await ok('CreateOrder', { orderId: 'wf-6', customerId: 'wf-ada', lines: [{ productId: 'wf-lamp', quantity: 1 }] });
    await shop.settle();
    const alerts = () => shop.shop.eventStore.readStream('stock-alert-wf-lamp').then((es) => es.map((e) => e.type));
    expect(await alerts()).toEqual(['LowStockAlertRaised']);

    await ok('RestockProduct', { productId: 'wf-lamp', quantity: 10 }, KEYS.clerk);
    const restocked = await eventually(
      () => inventory('wf-lamp'),
      (i) => i.lowStock === null,
    );
    expect(restocked).toMatchObject({ onHand: 16, available: 13 });
    expect(await alerts()).toEqual(['LowStockAlertRaised', 'LowStockAlertCleared']);
    const after = await shop.query('ListLowStock', { minPosition: await shop.eventCount() });
    expect(after.body.items.map((i: { productId: string }) => i.productId)).not.toContain('wf-lamp');
  });
});
