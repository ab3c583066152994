// Append conditions on PostgreSQL across processes: four child processes, each with its own store and pool, race
// read → conditional append for three products with a stock of 10 each. Exactly 10 units of each are reserved, no
// buyer gets one twice, and the log holds exactly what the children acknowledged.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Query } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { followChild } from '../support/child-lines.js';
import { freshSchema, PG_URL, pgAvailable } from '../support/postgres.js';

const root = join(import.meta.dirname, '..', '..');
const child = join(import.meta.dirname, 'pg-dcb-buyer-child.ts');
const fresh = freshSchema('dcbproc');
afterAll(async () => {
  await fresh.drop();
});

const PROCESSES = 4;
const BUYERS = 12;
const STOCK = 10;

type Child = {
  proc: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  done: Promise<{ bought: string[]; conflicts: number }>;
};

function buyers(label: string, products: string[]): Child {
  const proc = spawn(
    process.execPath,
    [
      '--conditions=chronicle-source',
      '--import',
      'tsx',
      child,
      PG_URL,
      fresh.schema,
      label,
      String(BUYERS),
      products.join(','),
      String(STOCK),
    ],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const bought: string[] = [];
  let conflicts = -1;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const output = followChild(proc, ([tag, a, b]) => {
    if (tag === 'ready') onReady();
    if (tag === 'bought') bought.push(`${a} ${b}`);
    if (tag === 'done') conflicts = Number(a);
  });
  const done = new Promise<{ bought: string[]; conflicts: number }>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code === 0 && conflicts >= 0) resolve({ bought, conflicts });
      else reject(new Error(`buyer child ${label} exited with ${code}: ${output.stderr}`));
    });
  });
  return { proc, ready, done };
}

describe.skipIf(!pgAvailable)('postgres append conditions: several processes', () => {
  it('four processes of 12 buyers each reserve exactly the stock of each of three products', { timeout: 120_000 }, async () => {
    const store = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
    try {
      // Migrated before the children start, so none of them waits on the migration lock while the others buy.
      await store.headPosition();
      const run = randomUUID().slice(0, 8);
      const products = [0, 1, 2].map((p) => `product:${run}-${p}`);
      const children = Array.from({ length: PROCESSES }, (_, i) => buyers(`p${i}`, products));
      await Promise.all(children.map((c) => c.ready));
      // Ending stdin too: a child's open stdin would keep it alive after its buyers are done.
      for (const c of children) c.proc.stdin.end('go\n');
      const results = await Promise.all(children.map((c) => c.done));

      const acknowledged = results.flatMap((r) => r.bought);
      for (const product of products) {
        const units = acknowledged.filter((a) => a.startsWith(`${product} `));
        expect(units, product).toHaveLength(STOCK);
        expect(new Set(units).size).toBe(STOCK);
        const { events } = await store.read(Query.tags(product));
        expect(events).toHaveLength(STOCK);
        expect(
          events.map((e) => `${product} ${(e.data as { label: string }).label}-${(e.data as { b: number }).b}`).sort(),
        ).toEqual([...units].sort());
      }
      // The children raced each other: some buyers of more than one process bought, and some lost a race.
      expect(results.filter((r) => r.bought.length > 0).length).toBeGreaterThan(1);
      const conflicts = results.reduce((n, r) => n + r.conflicts, 0);
      expect(conflicts).toBeGreaterThan(0);
      console.log(
        `${PROCESSES} processes × ${BUYERS} buyers, 3 products × ${STOCK}: bought per process ` +
          `${results.map((r) => r.bought.length).join('/')}, ${conflicts} conflicts retried`,
      );
    } finally {
      await store.close();
    }
  });
});
