import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './tour.js';

const root = join(import.meta.dirname, '../..');

// Every ```ts block in the README that starts with `// examples/tour/tour.ts#<region>` must be that region verbatim.
function readmeRegions(): Array<{ region: string; code: string }> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n\/\/ examples\/tour\/tour\.ts#(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    region: m[1],
    code: m[2],
  }));
}

function sourceRegion(region: string): string {
  const source = readFileSync(join(import.meta.dirname, 'tour.ts'), 'utf8');
  const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}\\n`));
  if (!match) throw new Error(`tour.ts has no region ${region}`);
  return match[1];
}

describe('the README tour', () => {
  it('runs: a deposit is readable at once through minPosition', async () => {
    expect(await main()).toEqual({ owner: 'Ada', cents: 2500 });
  });

  it('quotes tour.ts verbatim, so the README cannot drift from code that compiles and runs', () => {
    const regions = readmeRegions();
    expect(regions.map((r) => r.region)).toEqual(['imports', 'messages', 'decider', 'projection', 'wiring']);
    for (const { region, code } of regions) expect(code, region).toBe(sourceRegion(region));
  });
});
