// The examples use the typed API as a user would: event data and handler state come typed from the definitions, so
// a cast of `.data` or of a state is a sign the types stopped flowing. This fails on any such cast under examples/.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

// `x.data as T`, `(x.data as T)`, `<T>x.data`, and casts to a *State type.
const CASTS = [/\.data\)?\s+as\s+(?!const\b)/, /<[A-Za-z{][^>]*>\s*\w+\.data\b/, /\bas\s+(?:Readonly)?\w*State\b/];

function castsIn(source: string): string[] {
  // Comments and strings may mention casts; only code counts.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  return code.split('\n').filter((line) => CASTS.some((pattern) => pattern.test(line)));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('examples use typed event data and state', () => {
  it('has no `as` cast of event data or handler state anywhere under examples/', () => {
    const files = tsFiles(join(root, 'examples'));
    expect(files.length).toBeGreaterThan(20);
    const found = files.flatMap((file) =>
      castsIn(readFileSync(file, 'utf8')).map((line) => `${relative(root, file)}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

  it('recognises the casts it forbids (so the check above can fail)', () => {
    expect(castsIn('const o = (e.data as { owner: string }).owner;')).toHaveLength(1);
    expect(castsIn('const { orderId } = event.data as { orderId: string };')).toHaveLength(1);
    expect(castsIn('const s = states.get(id) as ProductState;')).toHaveLength(1);
    expect(castsIn('const d = <Foo>event.data;')).toHaveLength(1);
    expect(castsIn('// event.data as X in a comment\nconst ok = event.data;\nconst xs = [1] as const;')).toEqual([]);
  });
});
