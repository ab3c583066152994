// The README's "Two write models" quotes the code its test runs: every ```ts block there that starts with
// `// test/two-write-models.int.test.ts#<region>` must be that region verbatim.
import { describe, expect, it } from 'vitest';
import { readmeRegions, sourceRegion } from './support/readme-regions.js';

describe('the README quotes the two write models', () => {
  it('verbatim, so the same command written both ways cannot drift from the code the tests run', () => {
    const regions = readmeRegions('test\\/two-write-models\\.int\\.test\\.ts');
    expect(regions.map((r) => r.region)).toEqual(['decider', 'event-sourced', 'state-stored']);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });
});
