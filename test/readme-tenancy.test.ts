// The README's "Multi-tenancy" quotes the tenancy tests: every ```ts block there that starts with
// `// test/tenancy-<file>#<region>` must be that region of that file verbatim.
import { describe, expect, it } from 'vitest';
import { readmeRegions, sourceRegion } from './support/readme-regions.js';

describe('the README quotes the tenancy code', () => {
  it('verbatim, so its multi-tenancy examples cannot drift from code the tests run', () => {
    const regions = readmeRegions('test\\/tenancy-[\\w.-]+\\.ts');
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual([
      'test/tenancy-http.int.test.ts#sqlite-tenants',
      'test/tenancy-postgres.int.test.ts#postgres-tenants',
      'test/tenancy-http.int.test.ts#tenant-http',
    ]);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });
});
