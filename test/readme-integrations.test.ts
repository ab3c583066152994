// The README's "Integrations" quotes code the tests run: every ```ts block there that starts with
// `// examples/nest/<file>#<region>` or `// test/http-contract/<file>#<region>` is that region of that file verbatim.
import { describe, expect, it } from 'vitest';
import { readmeRegions, sourceRegion } from './support/readme-regions.js';

describe('the README quotes the integration code', () => {
  it('verbatim, so its fetch and Nest examples cannot drift from code the tests run', () => {
    const regions = readmeRegions('(?:examples\\/nest|test\\/http-contract)\\/[\\w./-]+\\.ts');
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual([
      'test/http-contract/fetch.int.test.ts#fetch-handler',
      'test/http-contract/hono-server.ts#hono-mount',
      'examples/nest/handlers.ts#nest-handler',
      'examples/nest/app-module.ts#nest-module',
      'examples/nest/orders-controller.ts#nest-controller',
    ]);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });
});
