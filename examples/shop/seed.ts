// `npm run seed`: loads the demo data through the command bus, as any client would. Safe to run again:
// every command carries a fixed idempotency key, so a second run writes nothing.
import { pathToFileURL } from 'node:url';
import { type CommandBus, isChronicleError, type Principal } from 'chronicle-es';
import { createShop } from './app.js';
import { customers, discontinued, orders, priceChanges, products } from './seed-data.js';

const seeder: Principal = { id: 'seed', roles: ['admin'] };

/**
 * Sends the demo data to `bus`. A command a business rule refuses (say, a customer someone already registered by hand)
 * is skipped and reported, so seeding a Shop that is in use still loads everything else.
 */
export async function seedShop(bus: CommandBus): Promise<{ sent: number; skipped: string[] }> {
  let sent = 0;
  const skipped: string[] = [];
  const send = async (name: string, payload: unknown, key: string) => {
    try {
      await bus.dispatch(name, payload, { principal: seeder, idempotencyKey: `seed-v1:${key}` });
      sent++;
    } catch (err) {
      if (!isChronicleError(err, 'DOMAIN_RULE')) throw err;
      skipped.push(`${name} ${key}: ${err.message}`);
    }
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
  return { sent, skipped };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dataDir = process.env.DATA_DIR ?? './data';
  const shop = await createShop({ dataDir, role: 'write' });
  try {
    const before = await shop.eventStore.headPosition();
    const { sent, skipped } = await seedShop(shop.commandBus);
    const after = await shop.eventStore.headPosition();
    console.log(JSON.stringify({ dataDir, commands: sent, eventsWritten: after - before, skipped }));
  } finally {
    await shop.close();
  }
}
