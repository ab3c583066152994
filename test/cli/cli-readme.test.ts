// The README's CLI help blocks are the CLI's real --help output: each ```text block starting with `$ chronicle …`
// must be what that command prints now, so the README cannot drift from the bin.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, root } from './cli-run.js';

const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```text\n\$ chronicle ([^\n]*)\n([\s\S]*?)```/g)].map(
  (m) => ({ args: m[1].split(' '), shown: m[2] }),
);

describe("the README's CLI help", () => {
  it('shows the main help and the rebuild help', () => {
    expect(blocks.map((b) => b.args.join(' '))).toEqual(['--help', 'projections rebuild --help']);
  });

  for (const { args, shown } of blocks) {
    it(`is what chronicle ${args.join(' ')} prints`, async () => {
      const result = await cli(...args);
      expect(result.code).toBe(0);
      expect(shown).toBe(result.stdout);
    });
  }
});
