// Money stays exact end to end: the largest order the schemas accept has an exact total, one unit past any bound
// is a 400, and sums across orders (revenue, a customer's spending) stay exact past 2^53 cents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PRICE_CENTS } from '../messages/fields.js';
import { MAX_LINE_QUANTITY, MAX_ORDER_LINES } from '../messages/orders.js';
import { given, KEYS, startShop, type TestShop } from './support.js';

let shop: TestShop;
beforeAll(async () => {
  shop = await startShop();
});
afterAll(() => shop.close());

const ORDERS = 10;
const products = Array.from({ length: MAX_ORDER_LINES }, (_, i) => `max-${i}`);
const largest = (orderId: string) => ({
  orderId,
  customerId: 'whale',
  lines: products.map((productId) => ({ productId, quantity: MAX_LINE_QUANTITY })),
});
const ok = async (name: string, body: unknown) => {
  const res = await shop.command(name, body);
  expect(res.status, `${name} → ${JSON.stringify(res.body)}`).toBe(200);
  return res.body as { position: number };
};
const rawBody = async (path: string) => (await fetch(shop.url + path, { headers: { 'x-api-key': KEYS.admin } })).text();

describe('money bounds', () => {
  it('accepts the largest order and serves its exact total', async () => {
    expect(MAX_PRICE_CENTS * MAX_LINE_QUANTITY * MAX_ORDER_LINES).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    await given(shop, {
      customers: ['whale'],
      products: products.map((productId) => ({ productId, priceCents: MAX_PRICE_CENTS, stock: ORDERS * MAX_LINE_QUANTITY })),
    });
    const { position } = await ok('CreateOrder', largest('max-1'));
    const text = await rawBody(`/queries/GetOrderStatus?orderId=max-1&minPosition=${position}`);
    // The text on the wire, not a parsed number: a rounded total would parse to a nearby double just as happily.
    expect(text).toContain('"totalCents":1000000000000000,');
    expect(JSON.parse(text).lines).toHaveLength(MAX_ORDER_LINES);
  });

  it('refuses one unit past each bound with 400 and writes nothing', async () => {
    const before = await shop.eventCount();
    const refused = async (name: string, body: unknown) => {
      const res = await shop.command(name, body);
      expect(res.status, `${name} → ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    };
    const product = { productId: 'too-dear', sku: 'TOO-DEAR', name: 'Too dear', currency: 'EUR' };
    await refused('CreateProduct', { ...product, priceCents: MAX_PRICE_CENTS + 1 });
    await refused('ChangeProductPrice', { productId: 'max-0', priceCents: MAX_PRICE_CENTS + 1 });
    const one = { orderId: 'too-big', customerId: 'whale' };
    await refused('CreateOrder', { ...one, lines: [{ productId: 'max-0', quantity: MAX_LINE_QUANTITY + 1 }] });
    const lines = [...products, 'max-extra'].map((productId) => ({ productId, quantity: 1 }));
    await refused('CreateOrder', { ...one, lines });
    expect(await shop.eventCount()).toBe(before);
  });

  it('sums revenue and spending past 2^53 cents exactly', async () => {
    await given(shop, { products: [{ productId: 'penny', priceCents: 1, stock: 1 }] });
    await ok('PayOrder', { orderId: 'max-1' });
    for (let i = 2; i <= ORDERS; i++) {
      await ok('CreateOrder', largest(`max-${i}`));
      await ok('PayOrder', { orderId: `max-${i}` });
    }
    await ok('CreateOrder', { orderId: 'penny-1', customerId: 'whale', lines: [{ productId: 'penny', quantity: 1 }] });
    const { position } = await ok('PayOrder', { orderId: 'penny-1' });
    // 10 × 10^15 + 1 is odd and above 2^53: as a double it would read 10000000000000000.
    const exact = '10000000000000001';
    const sales = JSON.parse(await rawBody(`/queries/GetSalesSummary?top=1&minPosition=${position}`));
    expect(sales.revenue).toEqual([{ currency: 'EUR', cents: exact }]);
    expect(sales.topProducts[0]).toMatchObject({ unitsSold: ORDERS * MAX_LINE_QUANTITY, revenueCents: '100000000000000' });
    const customer = JSON.parse(await rawBody(`/queries/GetCustomerById?customerId=whale&minPosition=${position}`));
    expect(customer).toMatchObject({ orderCount: ORDERS + 1, totalSpentCents: exact, spentByCurrency: { EUR: exact } });
  });
});
