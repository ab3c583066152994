// Sku uniqueness: one `productSku-<sku>` stream per sku, claimed in the same atomic append that creates the product.
// A sku stays with its product even after deletion, so old orders and reports never become ambiguous.
import { assertNever, type Decider, domainError, type EventOf } from 'chronicle-es';
import type { SkuClaimed } from '../messages/catalog.js';

export type SkuClaimCommand = { type: 'ClaimSku'; data: { sku: string; productId: string } };
export type SkuClaimEvent = EventOf<typeof SkuClaimed>;
export type SkuClaimState = { owner?: string };

export const skuStreamId = (sku: string) => `productSku-${sku}`;

export const skuClaim: Decider<SkuClaimCommand, SkuClaimEvent, SkuClaimState> = {
  initialState: {},

  decide(command, state) {
    switch (command.type) {
      case 'ClaimSku':
        if (state.owner === command.data.productId) return [];
        if (state.owner !== undefined) throw domainError(`sku ${command.data.sku} is already used by another product`);
        return [{ type: 'SkuClaimed', data: command.data }];
      default:
        return assertNever(command.type);
    }
  },

  evolve(_state, event) {
    return { owner: event.data.productId };
  },
};
