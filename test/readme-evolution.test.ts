// The README's "Evolving and governing the log" quotes the code its tests run: every ```ts block there that starts with
// `// src/core/evolution/<file>#<region>` (or snapshots/) must be that region of that file verbatim.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function readmeRegions(): Array<{ file: string; region: string; code: string }> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n\/\/ (src\/core\/(?:evolution|snapshots)\/[\w./-]+\.ts)#([\w-]+)\n([\s\S]*?)```/g)].map(
    (m) => ({
      file: m[1],
      region: m[2],
      code: m[3],
    }),
  );
}

function sourceRegion(file: string, region: string): string {
  const source = readFileSync(join(root, file), 'utf8');
  const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}\\n`));
  if (!match) throw new Error(`${file} has no region ${region}`);
  return match[1];
}

describe('the README quotes the evolution code', () => {
  it('verbatim, so its upcasting and snapshot examples cannot drift from code the tests run', () => {
    const regions = readmeRegions();
    expect(regions.map((r) => `${r.file}#${r.region}`)).toEqual([
      'src/core/evolution/fixtures/evolved-orders.ts#upcasters',
      'src/core/evolution/fixtures/evolved-orders.ts#alias',
      'src/core/evolution/upcasting.test.ts#wiring',
      'src/core/snapshots/command-snapshots.test.ts#snapshot-option',
    ]);
    for (const { file, region, code } of regions) expect(code, `${file}#${region}`).toBe(sourceRegion(file, region));
  });
});
