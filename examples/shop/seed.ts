// `npm run seed`: loads the demo data through the command bus, as any client would. Safe to run again:
// every command carries a fixed idempotency key, so a second run writes nothing.
import { pathToFileURL } from 'node:url';
import type { CommandBus, Principal } from 'chronicle';
import { createShop } from './app.js';
import { customers, discontinued, orders, priceChanges, products } from './seed-data.js';

const seeder: Principal = { id: 'seed', roles: ['admin'] };

/** Sends the demo data to `bus`; returns how many commands it sent. */
export async function seedShop(bus: CommandBus): Promise<number> {
  let sent = 0;
  const send = async (name: string, payload: unknown, key: string) => {
    await bus.dispatch(name, payload, { principal: seeder, idempotencyKey: `seed-v1:${key}` });
    sent++;
  };
  for (const { stock, ...product } of products) {
    await send('CreateProduct', product, `product:${product.productId}`);
    if (stock > 0)
      await send('RestockProduct', { productId: product.productId, quantity: stock }, `restock:${product.productId}`);
  }
  for (const customer of customers) await send('RegisterCustomer', customer, `customer:${customer.customerId}`);
  for (const { productId, priceCents } of priceChanges) {
    await send('ChangeProductPrice', { productId, priceCents }, `price:${productId}:${priceCents}`);
  }
  for (const { orderId, customerId, lines, progress } of orders) {
    await send('CreateOrder', { orderId, customerId, lines }, `order:${orderId}`);
    if (progress === 'paid' || progress === 'shipped' || progress === 'paid-then-cancelled')
      await send('PayOrder', { orderId }, `pay:${orderId}`);
    if (progress === 'shipped') await send('ShipOrder', { orderId }, `ship:${orderId}`);
    if (progress === 'cancelled' || progress === 'paid-then-cancelled') {
      await send('CancelOrder', { orderId, reason: 'customer changed their mind' }, `cancel:${orderId}`);
    }
  }
  for (const productId of discontinued) await send('DeleteProduct', { productId }, `delete:${productId}`);
  return sent;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dataDir = process.env.DATA_DIR ?? './data';
  const shop = await createShop({ dataDir, role: 'write' });
  try {
    const before = await shop.eventStore.headPosition();
    const commands = await seedShop(shop.commandBus);
    const after = await shop.eventStore.headPosition();
    console.log(JSON.stringify({ dataDir, commands, eventsWritten: after - before }));
  } finally {
    await shop.close();
  }
}
