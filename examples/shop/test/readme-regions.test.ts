// The README's "Consistency across entities" and "Workflows" quote Shop code: every ```ts block there that starts with
// `// examples/shop/<file>#<region>` must be that region of that file verbatim, as the tour's blocks are checked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');

function readmeRegions(): Array<{ file: string; region: string; code: string }> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n\/\/ (examples\/shop\/[\w./-]+\.ts)#([\w-]+)\n([\s\S]*?)```/g)].map((m) => ({
    file: m[1],
    region: m[2],
    code: m[3],
  }));
}

function sourceRegion(file: string, region: string): string {
  const source = readFileSync(join(root, file), 'utf8');
  const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}\\n`));
  if (!match) throw new Error(`${file} has no region ${region}`);
  return match[1];
}

describe('the README quotes the Shop', () => {
  it('verbatim, so the oversell and workflow examples cannot drift from code the tests run', () => {
    const regions = readmeRegions();
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
