// The README's curl session is a script this test runs against a real Shop, and the README quotes it verbatim.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startShop, type TestShop } from './support.js';

const script = new URL('../curl-session.sh', import.meta.url);
const readme = new URL('../README.md', import.meta.url);

let shop: TestShop;
beforeAll(async () => {
  shop = await startShop();
});
afterAll(() => shop.close());

describe('README', () => {
  it('quotes curl-session.sh verbatim (from its settings on)', () => {
    const body = readFileSync(script, 'utf8').split('\n').slice(3).join('\n').trim();
    expect(readFileSync(readme, 'utf8')).toContain(body);
  });

  it('its curl session creates a product, registers Ada, places her order and reads it back', async () => {
    const { stdout } = await promisify(execFile)('bash', [script.pathname], {
      env: { ...process.env, SHOP: shop.url, ADMIN_KEY: KEYS.admin, CUSTOMER_KEY: KEYS.ada },
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.slice(0, 4).map((l) => l.ok)).toEqual([true, true, true, true]);
    expect(lines.at(-1)).toMatchObject({
      orderId: 'ord-2001',
      customerId: 'ada',
      customerName: 'Ada Lovelace',
      status: 'created',
      lines: [{ productId: 'pour-over-kettle', name: 'Pour-over Kettle, 0.9 l', quantity: 2, unitPriceCents: 4990 }],
      totalCents: 9980,
    });
  });
});
