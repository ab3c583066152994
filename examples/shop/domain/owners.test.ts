// The owner models through their queries, over a store holding events they must and must not select: the new tagged
// events, the claim streams of earlier versions (the reading rule), and look-alikes of other skus and addresses.
import type { TaggedEvent } from 'chronicle-es';
import { decisionModelSpec } from 'chronicle-es/testing';
import { describe, it } from 'vitest';
import { emailOwner } from './email-owner.js';
import { skuOwner } from './sku-owner.js';

const created = (productId: string, sku: string, tags = [`sku:${sku}`]): TaggedEvent => ({
  streamId: `product-${productId}`,
  type: 'ProductCreated',
  data: { productId, sku, name: productId, priceCents: 1, currency: 'EUR' },
  tags,
});
const skuClaimed = (sku: string, productId: string): TaggedEvent => ({
  streamId: `productSku-${sku}`,
  type: 'SkuClaimed',
  data: { sku, productId },
});
const registered = (customerId: string, email: string): TaggedEvent => ({
  streamId: `customer-${customerId}`,
  type: 'CustomerRegistered',
  data: { customerId, name: customerId, email },
  tags: [`email:${email.toLowerCase()}`],
});
const emailChanged = (customerId: string, email: string, from: string): TaggedEvent => ({
  streamId: `customer-${customerId}`,
  type: 'CustomerDetailsUpdated',
  data: { customerId, email },
  tags: [`email:${email.toLowerCase()}`, `email:${from.toLowerCase()}`],
});
const legacy = (type: 'EmailClaimed' | 'EmailReleased', email: string, customerId: string): TaggedEvent => ({
  streamId: `customerEmail-${email}`,
  type,
  data: { email, customerId },
});
// What a customer stream held before tags: found by its stream id only, never by an email query.
const untagged = (event: TaggedEvent): TaggedEvent => ({ ...event, tags: undefined });

describe('skuOwner reads', () => {
  it('the ProductCreated tagged with its sku, and no other sku', async () => {
    await decisionModelSpec(skuOwner('MUG-350'))
      .given([created('p0', 'MUG-3500'), created('p1', 'MUG-350'), skuClaimed('CUP-1', 'p2')])
      .thenState({ owner: 'p1' });
  });

  it('a claim an earlier version wrote on productSku-<sku>, not one on another sku', async () => {
    await decisionModelSpec(skuOwner('MUG-350'))
      .given([untagged(created('p1', 'MUG-350')), skuClaimed('MUG-350', 'p1'), skuClaimed('MUG-3500', 'p9')])
      .thenState({ owner: 'p1' });
    await decisionModelSpec(skuOwner('MUG-350'))
      .given([skuClaimed('MUG-3500', 'p9')])
      .thenState({});
  });

  it('not an untagged ProductCreated: without its claim stream, an old product names no sku', async () => {
    await decisionModelSpec(skuOwner('MUG-350'))
      .given([untagged(created('p1', 'MUG-350'))])
      .thenState({});
  });
});

describe('emailOwner reads', () => {
  it('registrations and changes tagged with the address, in any letter case', async () => {
    await decisionModelSpec(emailOwner('Ada@Example.com'))
      .given([registered('c1', 'ada@example.com'), registered('c2', 'bob@example.com')])
      .thenState({ email: 'ada@example.com', owner: 'c1' });
    await decisionModelSpec(emailOwner('ada@example.com'))
      .given([registered('c1', 'ada@example.com'), emailChanged('c1', 'ada@lovelace.org', 'ada@example.com')])
      .thenState({ email: 'ada@example.com' });
    await decisionModelSpec(emailOwner('ada@lovelace.org'))
      .given([registered('c1', 'ada@example.com'), emailChanged('c1', 'ADA@Lovelace.org', 'ada@example.com')])
      .thenState({ email: 'ada@lovelace.org', owner: 'c1' });
  });

  it('the claims and releases an earlier version wrote on customerEmail-<email>, then new events on top', async () => {
    const old = [
      untagged(registered('c1', 'ada@example.com')),
      legacy('EmailClaimed', 'ada@example.com', 'c1'),
      legacy('EmailClaimed', 'bob@example.com', 'c2'),
    ];
    await decisionModelSpec(emailOwner('ada@example.com')).given(old).thenState({ email: 'ada@example.com', owner: 'c1' });
    await decisionModelSpec(emailOwner('ada@example.com'))
      .given([...old, legacy('EmailReleased', 'ada@example.com', 'c1')])
      .thenState({ email: 'ada@example.com' });
    await decisionModelSpec(emailOwner('ada@example.com'))
      .given([...old, emailChanged('c1', 'ada@lovelace.org', 'ada@example.com'), registered('c3', 'ADA@example.com')])
      .thenState({ email: 'ada@example.com', owner: 'c3' });
  });
});
