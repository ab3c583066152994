// Sku uniqueness without a claim stream: a sku belongs to the product whose ProductCreated carries its tag. A sku stays
// with its product even after deletion, so old orders and reports never become ambiguous.
import { type DecisionModel, domainError, type EventOf } from 'chronicle-es';
import type { ProductCreated, SkuClaimed } from '../messages/catalog.js';
import { legacySkuStreamId, skuTag } from './tags.js';

export type SkuOwnerEvent = EventOf<typeof ProductCreated> | EventOf<typeof SkuClaimed>;
export type SkuOwnerState = { owner?: string };

// Module-level, so every sku's model shares one evolve: the decision handler caches by query and evolve.
const evolve = (state: SkuOwnerState, event: SkuOwnerEvent): SkuOwnerState =>
  state.owner === undefined ? { owner: event.data.productId } : state;

// #region sku-owner
/**
 * Who holds `sku`. Reading rule for existing data: logs written before tags hold the claim as a SkuClaimed on the
 * `productSku-<sku>` stream, found by its stream id (a stream id counts as a tag), so it still counts.
 */
export function skuOwner(sku: string): DecisionModel<SkuOwnerState, SkuOwnerEvent> {
  return {
    query: [
      { types: ['ProductCreated'], tags: [skuTag(sku)] },
      { types: ['SkuClaimed'], tags: [legacySkuStreamId(sku)] },
    ],
    initialState: {},
    evolve,
  };
}
// #endregion sku-owner

/** @throws DOMAIN_RULE when another product holds the sku */
export function checkSkuFree(sku: string, productId: string, state: SkuOwnerState): void {
  if (state.owner !== undefined && state.owner !== productId) {
    throw domainError(`sku ${sku} is already used by another product`);
  }
}
