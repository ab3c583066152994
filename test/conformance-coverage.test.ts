// Fails when a module that ships an event store does not run the shared conformance suite from chronicle/testing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
// Hosts the suite itself; it implements no store.
const NOT_ADAPTERS = new Set(['testing']);
const FACTORY = /^create\w*EventStore$/;

// Rough, but enough for our own sources: a call that is commented out must not count.
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Names of `create*EventStore` functions a module's index defines, or re-exports from its own files. */
function eventStoreFactories(indexSource: string): string[] {
  const source = stripComments(indexSource);
  const names = new Set<string>();
  for (const m of source.matchAll(/export\s+(?:async\s+)?function\s*\*?\s*(\w+)/g)) names.add(m[1]);
  for (const m of source.matchAll(/export\s+(?:const|let|var)\s+(\w+)/g)) names.add(m[1]);
  for (const m of source.matchAll(/export\s+(type\s+)?\{([^}]*)\}(?:\s*from\s*['"]([^'"]+)['"])?/g)) {
    const [, typeOnly, list, from] = m;
    // A re-export of another package's store (e.g. the in-memory one from 'chronicle-es') is not this module's store.
    if (typeOnly || (from !== undefined && !from.startsWith('.'))) continue;
    for (const raw of list.split(',')) {
      const spec = raw.trim();
      if (spec === '' || spec.startsWith('type ')) continue;
      const alias = spec.split(/\s+as\s+/);
      names.add(alias[alias.length - 1].trim());
    }
  }
  return [...names].filter((n) => FACTORY.test(n)).sort();
}

/** True when the source calls the suite and takes it from the public entry. */
function runsSuite(source: string): boolean {
  const code = stripComments(source);
  return /\bdescribeEventStoreConformance\s*\(/.test(code) && /from\s+['"]chronicle-es\/testing['"]/.test(code);
}

function testFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFilesUnder(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const modules = readdirSync(SRC, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !NOT_ADAPTERS.has(e.name) && existsSync(join(SRC, e.name, 'index.ts')))
  .map((e) => ({ name: e.name, factories: eventStoreFactories(readFileSync(join(SRC, e.name, 'index.ts'), 'utf8')) }))
  .filter((m) => m.factories.length > 0);

describe('event-store conformance coverage', () => {
  it('finds the stores to check (core exports the in-memory one)', () => {
    expect(modules.find((m) => m.name === 'core')?.factories).toContain('createInMemoryEventStore');
  });

  it('core runs the suite against the in-memory store', () => {
    expect(runsSuite(readFileSync(join(SRC, 'core', 'in-memory-event-store.test.ts'), 'utf8'))).toBe(true);
  });

  for (const { name, factories } of modules) {
    it(`src/${name} (${factories.join(', ')}) calls describeEventStoreConformance( in one of its *.test.ts files`, () => {
      const runners = testFilesUnder(join(SRC, name)).filter((file) => runsSuite(readFileSync(file, 'utf8')));
      expect(runners, `no *.test.ts under src/${name} runs the conformance suite from chronicle/testing`).not.toEqual([]);
    });
  }

  it('export detection counts own factories and skips re-exports, types and comments', () => {
    const index = [
      '// chronicle/x: an adapter',
      "export { createFooEventStore, type FooOptions } from './foo-event-store.js';",
      "export { createInMemoryEventStore } from 'chronicle-es';",
      "export type { createTypeOnlyEventStore } from './types.js';",
      "export { makeStore as createAliasEventStore, createReadStore } from './alias.js';",
      'export async function createBarEventStore() {}',
      'export const createBazEventStore = () => {};',
      "// export { createCommentedEventStore } from './old.js';",
    ].join('\n');
    expect(eventStoreFactories(index)).toEqual([
      'createAliasEventStore',
      'createBarEventStore',
      'createBazEventStore',
      'createFooEventStore',
    ]);
  });

  it('a commented-out call or a suite not taken from chronicle/testing does not count', () => {
    const imported = "import { describeEventStoreConformance } from 'chronicle-es/testing';\n";
    expect(runsSuite(`${imported}describeEventStoreConformance('x', f, r);`)).toBe(true);
    expect(runsSuite(`${imported}describeEventStoreConformance(\n  'x', f, r);`)).toBe(true);
    expect(runsSuite(`${imported}// describeEventStoreConformance('x', f, r);`)).toBe(false);
    expect(runsSuite(`${imported}/* describeEventStoreConformance('x', f, r); */`)).toBe(false);
    expect(
      runsSuite(
        "import { describeEventStoreConformance } from '../testing/event-store-conformance.js';\ndescribeEventStoreConformance('x', f, r);",
      ),
    ).toBe(false);
  });
});

// A store whose type offers `transact` (a state-stored write model) runs the state-stored cases too.
describe('state-stored conformance coverage', () => {
  const offersTransact = (name: string) =>
    testFilesUnder(join(SRC, name)).length > 0 &&
    readdirSync(join(SRC, name)).some(
      (file) =>
        file.endsWith('.ts') && !file.endsWith('.test.ts') && /\btransact:\s/.test(readFileSync(join(SRC, name, file), 'utf8')),
    );
  const runsStateStored = (source: string) =>
    /\bdescribeStateStoredConformance\s*\(/.test(stripComments(source)) && /from\s+['"]chronicle-es\/testing['"]/.test(source);

  it('finds the stores with transact (SQLite and PostgreSQL)', () => {
    expect(modules.filter((m) => offersTransact(m.name)).map((m) => m.name)).toEqual(
      expect.arrayContaining(['postgres', 'sqlite']),
    );
  });

  for (const { name } of modules.filter((m) => offersTransact(m.name))) {
    it(`src/${name} calls describeStateStoredConformance( in one of its *.test.ts files`, () => {
      const runners = testFilesUnder(join(SRC, name)).filter((file) => runsStateStored(readFileSync(file, 'utf8')));
      expect(runners, `no *.test.ts under src/${name} runs the state-stored cases`).not.toEqual([]);
    });
  }
});
