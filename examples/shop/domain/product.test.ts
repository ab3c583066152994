import { fold } from 'chronicle-es';
import { deciderSpec } from 'chronicle-es/testing';
import { describe, expect, it } from 'vitest';
import { createProduct, type ProductEvent, product } from './product.js';
import { type SkuOwnerEvent, skuOwner } from './sku-owner.js';

const data = { productId: 'p1', sku: 'MUG-350', name: 'Stoneware mug', priceCents: 1450, currency: 'EUR' };
const created: ProductEvent = { type: 'ProductCreated', data };
const restocked = (quantity: number): ProductEvent => ({ type: 'ProductRestocked', data: { productId: 'p1', quantity } });
const reserved = (orderId: string, quantity: number): ProductEvent => ({
  type: 'StockReserved',
  data: { productId: 'p1', orderId, quantity },
});
const deleted: ProductEvent = { type: 'ProductDeleted', data: { productId: 'p1' } };
const spec = deciderSpec(product);

describe('product', () => {
  it('creates a product with no stock; its event carries the sku as a tag, which takes the sku', () => {
    const events = createProduct({ type: 'CreateProduct', data }, { product: product.initialState, sku: {} });
    expect(events).toEqual([{ streamId: 'product-p1', type: 'ProductCreated', data, tags: ['sku:MUG-350'] }]);
    expect(fold(product, [created])).toMatchObject({ status: 'active', onHand: 0, reserved: 0 });
  });

  it('refuses a sku another product holds', () => {
    expect(() => createProduct({ type: 'CreateProduct', data }, { product: product.initialState, sku: { owner: 'p0' } })).toThrow(
      expect.objectContaining({ code: 'DOMAIN_RULE', message: 'sku MUG-350 is already used by another product' }),
    );
  });

  it('a sku belongs to the first product that took it, a legacy claim included (the reading rule for existing data)', () => {
    const model = skuOwner('MUG-350');
    expect(model.query).toEqual([
      { types: ['ProductCreated'], tags: ['sku:MUG-350'] },
      { types: ['SkuClaimed'], tags: ['productSku-MUG-350'] },
    ]);
    const claimed: SkuOwnerEvent = { type: 'SkuClaimed', data: { sku: 'MUG-350', productId: 'p0' } };
    expect(fold(model, [claimed]).owner).toBe('p0');
    // Earlier versions wrote the claim right after the product's event; either way round, the first holder keeps it.
    expect(fold(model, [{ type: 'ProductCreated', data: { ...data, productId: 'p0' } }, claimed]).owner).toBe('p0');
    expect(fold(model, [created]).owner).toBe('p1');
  });

  it('refuses to create the same product twice', () => {
    spec.given([created]).when({ type: 'CreateProduct', data }).thenThrows('DOMAIN_RULE', 'product "p1" already exists');
  });

  it('changes the price; the same price again is a no-op', () => {
    spec
      .given([created])
      .when({ type: 'ChangeProductPrice', data: { productId: 'p1', priceCents: 1290 } })
      .then([{ type: 'ProductPriceChanged', data: { productId: 'p1', priceCents: 1290 } }]);
    spec
      .given([created])
      .when({ type: 'ChangeProductPrice', data: { productId: 'p1', priceCents: 1450 } })
      .then([]);
  });

  it('refuses a price change for a deleted product, and NOT_FOUND for an unknown one', () => {
    const change = { type: 'ChangeProductPrice' as const, data: { productId: 'p1', priceCents: 1 } };
    spec.given([created, deleted]).when(change).thenThrows('DOMAIN_RULE', 'product "p1" is deleted');
    spec.given([]).when(change).thenThrows('NOT_FOUND');
  });

  it('deletes once; deleting again is a no-op', () => {
    const remove = { type: 'DeleteProduct' as const, data: { productId: 'p1' } };
    spec.given([created]).when(remove).then([deleted]);
    spec.given([created, deleted]).when(remove).then([]);
    spec.given([]).when(remove).thenThrows('NOT_FOUND');
  });

  it('restocks an active product only', () => {
    const restock = { type: 'RestockProduct' as const, data: { productId: 'p1', quantity: 5 } };
    spec
      .given([created])
      .when(restock)
      .then([restocked(5)]);
    spec.given([created, deleted]).when(restock).thenThrows('DOMAIN_RULE', 'product "p1" is deleted');
    spec.given([]).when(restock).thenThrows('NOT_FOUND');
  });

  it('reserves only what is available', () => {
    const history = [created, restocked(10), reserved('o1', 7)];
    spec
      .given(history)
      .when({ type: 'ReserveStock', data: { productId: 'p1', orderId: 'o2', quantity: 3 } })
      .then([reserved('o2', 3)]);
    spec
      .given(history)
      .when({ type: 'ReserveStock', data: { productId: 'p1', orderId: 'o2', quantity: 4 } })
      .thenThrows('DOMAIN_RULE', 'not enough stock of MUG-350: 3 available, 4 requested');
  });

  it('refuses to reserve a deleted or unknown product', () => {
    const reserve = { type: 'ReserveStock' as const, data: { productId: 'p1', orderId: 'o1', quantity: 1 } };
    spec
      .given([created, restocked(5), deleted])
      .when(reserve)
      .thenThrows('DOMAIN_RULE', 'product "p1" is no longer sold');
    spec.given([]).when(reserve).thenThrows('DOMAIN_RULE', 'product "p1" does not exist');
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
