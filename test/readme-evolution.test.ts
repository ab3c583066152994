// The README's "Evolving and governing the log" quotes the code its tests run: every ```ts block there that starts with
// `// src/core/evolution/<file>#<region>` (or snapshots/, or the lifecycle test) must be that region of that file verbatim.
import { describe, expect, it } from 'vitest';
import { readmeRegions, sourceRegion } from './support/readme-regions.js';

describe('the README quotes the evolution code', () => {
  it('verbatim, so its upcasting and snapshot examples cannot drift from code the tests run', () => {
    const regions = readmeRegions('src\\/core\\/(?:evolution|snapshots)\\/[\\w./-]+\\.ts');
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual([
      'src/core/evolution/fixtures/evolved-orders.ts#upcasters',
      'src/core/evolution/fixtures/evolved-orders.ts#alias',
      'src/core/evolution/upcasting.test.ts#wiring',
      'src/core/snapshots/command-snapshots.test.ts#snapshot-option',
    ]);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });

  it('verbatim, so its stream-lifecycle example is code the lifecycle tests run on every store', () => {
    const regions = readmeRegions('test\\/stream-lifecycle\\.int\\.test\\.ts');
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual(['test/stream-lifecycle.int.test.ts#lifecycle']);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });

  it('verbatim, so its crypto-shredding examples cannot drift from code the tests run', () => {
    const regions = readmeRegions('src\\/core\\/shredding\\/[\\w./-]+\\.ts');
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual([
      'src/core/shredding/crypto-shredding.test.ts#personal-events',
      'src/core/shredding/crypto-shredding.test.ts#wiring',
      'src/core/shredding/crypto-shredding.test.ts#with-upcasting',
    ]);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });
});
