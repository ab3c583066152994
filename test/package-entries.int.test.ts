// The package as a user gets it: the built export map works, and `chronicle-es` alone loads no driver.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string; 'chronicle-source': string }>;
};
const entries = Object.entries(pkg.exports).filter(([, target]) => typeof target === 'object') as [
  string,
  { types: string; default: string; 'chronicle-source': string },
][];
const specifier = (subpath: string) => (subpath === '.' ? 'chronicle-es' : `chronicle-es/${subpath.slice(2)}`);

// Prints which driver packages the CommonJS loader has pulled in after importing `modules`.
async function loadedDrivers(modules: string[], nodeFlags: string[]): Promise<string[]> {
  const code = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    ${modules.map((m) => `await import(${JSON.stringify(m)});`).join('\n')}
    const drivers = ['better-sqlite3', 'pg', 'fastify', '@nats-io'];
    const loaded = drivers.filter((d) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + d + '/')));
    console.log(JSON.stringify(loaded));`;
  const args = [...nodeFlags, '--input-type=module', '-e', code];
  const { stdout } = await run(process.execPath, args, { cwd: root });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '[]');
}

describe('package entries', () => {
  beforeAll(async () => {
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
  }, 120_000);

  it('has a built file and type declarations for every entry in the export map', () => {
    expect(entries.map(([subpath]) => subpath)).toEqual(expect.arrayContaining(['.', './sqlite', './testing']));
    for (const [, target] of entries) {
      expect(existsSync(join(root, target.default)), target.default).toBe(true);
      expect(existsSync(join(root, target.types)), target.types).toBe(true);
      expect(existsSync(join(root, target['chronicle-source'])), target['chronicle-source']).toBe(true);
    }
  });

  it.each(entries.map(([subpath]) => specifier(subpath)))('imports %s from the built output with named exports', async (name) => {
    const code = `const m = await import(${JSON.stringify(name)}); console.log(JSON.stringify(Object.keys(m)));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: root });
    const names = JSON.parse(stdout.trim()) as string[];
    expect(names.length).toBeGreaterThan(0);
    expect(names).not.toContain('default');
  });

  it('loads no driver when importing chronicle or chronicle/testing (built and source)', async () => {
    expect(await loadedDrivers(['chronicle-es', 'chronicle-es/testing'], [])).toEqual([]);
    expect(
      await loadedDrivers(['chronicle-es', 'chronicle-es/testing'], ['--conditions=chronicle-source', '--import', 'tsx']),
    ).toEqual([]);
  });

  it('loads better-sqlite3 only through chronicle/sqlite (sanity check of the probe)', async () => {
    expect(await loadedDrivers(['chronicle-es/sqlite'], [])).toContain('better-sqlite3');
  });
});
