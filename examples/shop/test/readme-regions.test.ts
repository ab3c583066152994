// The README's "Consistency across entities" and "Workflows" quote Shop code: every ```ts block there that starts with
// `// examples/shop/<file>#<region>` must be that region of that file verbatim, as the tour's blocks are checked.
import { describe, expect, it } from 'vitest';
import { readmeRegions, sourceRegion } from '../../../test/support/readme-regions.js';

describe('the README quotes the Shop', () => {
  it('verbatim, so the oversell and workflow examples cannot drift from code the tests run', () => {
    const regions = readmeRegions('examples\\/shop\\/[\\w./-]+\\.ts');
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual([
      'examples/shop/test/oversell.test.ts#reserve',
      'examples/shop/domain/product.ts#product-model',
      'examples/shop/commands.ts#create-order',
      'examples/shop/domain/sku-owner.ts#sku-owner',
      'examples/shop/domain/checkout.ts#schedule-expiry',
      'examples/shop/domain/checkout.ts#pay-order',
      'examples/shop/processes/fulfilment.ts#fulfilment',
      'examples/shop/app.ts#workflows',
      'examples/shop/server.ts#console',
      'examples/shop/test/telemetry.int.test.ts#register',
    ]);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });
});
