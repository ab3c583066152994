import { fold } from 'chronicle';
import { describe, expect, it } from 'vitest';
import { createProduct, type ProductCommand, type ProductEvent, product } from './product.js';

const created: ProductEvent = {
  type: 'ProductCreated',
  data: { productId: 'p1', sku: 'MUG-350', name: 'Stoneware mug', priceCents: 1450, currency: 'EUR' },
};
const restocked = (quantity: number): ProductEvent => ({ type: 'ProductRestocked', data: { productId: 'p1', quantity } });
const reserved = (orderId: string, quantity: number): ProductEvent => ({
  type: 'StockReserved',
  data: { productId: 'p1', orderId, quantity },
});
const deleted: ProductEvent = { type: 'ProductDeleted', data: { productId: 'p1' } };

const decide = (given: ProductEvent[], command: ProductCommand) => product.decide(command, fold(product, given));
const refusal = (code: string, message?: string) =>
  expect.objectContaining({ code, ...(message ? { message: expect.stringContaining(message) } : {}) });

describe('product', () => {
  it('creates a product with no stock and claims its sku', () => {
    const writes = createProduct(
      { type: 'CreateProduct', data: created.data as never },
      { product: product.initialState, sku: {} },
    );
    expect(writes.map((w) => [w.streamId, w.events.map((e) => e.type)])).toEqual([
      ['product-p1', ['ProductCreated']],
      ['productSku-MUG-350', ['SkuClaimed']],
    ]);
    expect(fold(product, [created])).toMatchObject({ status: 'active', onHand: 0, reserved: 0 });
  });

  it('refuses a sku another product holds', () => {
    expect(() =>
      createProduct(
        { type: 'CreateProduct', data: created.data as never },
        { product: product.initialState, sku: { owner: 'p0' } },
      ),
    ).toThrow(refusal('DOMAIN_RULE', 'sku MUG-350 is already used'));
  });

  it('refuses to create the same product twice', () => {
    expect(() => decide([created], { type: 'CreateProduct', data: created.data as never })).toThrow(refusal('DOMAIN_RULE'));
  });

  it('changes the price; the same price again is a no-op', () => {
    expect(decide([created], { type: 'ChangeProductPrice', data: { productId: 'p1', priceCents: 1290 } })).toEqual([
      { type: 'ProductPriceChanged', data: { productId: 'p1', priceCents: 1290 } },
    ]);
    expect(decide([created], { type: 'ChangeProductPrice', data: { productId: 'p1', priceCents: 1450 } })).toEqual([]);
  });

  it('refuses a price change for a deleted product, and NOT_FOUND for an unknown one', () => {
    expect(() => decide([created, deleted], { type: 'ChangeProductPrice', data: { productId: 'p1', priceCents: 1 } })).toThrow(
      refusal('DOMAIN_RULE', 'deleted'),
    );
    expect(() => decide([], { type: 'ChangeProductPrice', data: { productId: 'p1', priceCents: 1 } })).toThrow(
      refusal('NOT_FOUND'),
    );
  });

  it('deletes once; deleting again is a no-op', () => {
    expect(decide([created], { type: 'DeleteProduct', data: { productId: 'p1' } })).toEqual([deleted]);
    expect(decide([created, deleted], { type: 'DeleteProduct', data: { productId: 'p1' } })).toEqual([]);
    expect(() => decide([], { type: 'DeleteProduct', data: { productId: 'p1' } })).toThrow(refusal('NOT_FOUND'));
  });

  it('restocks an active product only', () => {
    expect(decide([created], { type: 'RestockProduct', data: { productId: 'p1', quantity: 5 } })).toEqual([restocked(5)]);
    expect(() => decide([created, deleted], { type: 'RestockProduct', data: { productId: 'p1', quantity: 5 } })).toThrow(
      refusal('DOMAIN_RULE'),
    );
  });

  it('reserves only what is available', () => {
    const given = [created, restocked(10), reserved('o1', 7)];
    expect(decide(given, { type: 'ReserveStock', data: { productId: 'p1', orderId: 'o2', quantity: 3 } })).toEqual([
      reserved('o2', 3),
    ]);
    expect(() => decide(given, { type: 'ReserveStock', data: { productId: 'p1', orderId: 'o2', quantity: 4 } })).toThrow(
      refusal('DOMAIN_RULE', '3 available, 4 requested'),
    );
  });

  it('refuses to reserve a deleted or unknown product', () => {
    const reserve: ProductCommand = { type: 'ReserveStock', data: { productId: 'p1', orderId: 'o1', quantity: 1 } };
    expect(() => decide([created, restocked(5), deleted], reserve)).toThrow(refusal('DOMAIN_RULE', 'no longer sold'));
    expect(() => decide([], reserve)).toThrow(refusal('DOMAIN_RULE', 'does not exist'));
  });

  it('tracks on hand and reserved through release and shipment', () => {
    const state = fold(product, [
      created,
      restocked(10),
      reserved('o1', 3),
      reserved('o2', 2),
      { type: 'StockReleased', data: { productId: 'p1', orderId: 'o1', quantity: 3 } },
      { type: 'StockShipped', data: { productId: 'p1', orderId: 'o2', quantity: 2 } },
    ]);
    expect(state).toMatchObject({ onHand: 8, reserved: 0 });
  });
});
