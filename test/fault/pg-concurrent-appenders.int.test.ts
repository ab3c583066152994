// 32 appenders on three stores (two pools here, one in a child process) for 10 s, with a subscriber and a projector
// following the log live on a fourth: every acknowledged event is delivered once, in position order, none missing and
// none extra — though positions commit out of order all the time.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createPostgresEventStore, type PostgresEventStore } from 'chronicle-es/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { followChild } from '../support/child-lines.js';
import { freshSchema, PG_URL, pgAvailable } from '../support/postgres.js';
import { runAppenders } from './pg-appenders.js';
import { deliveryProblems, watch } from './pg-delivery-watchers.js';

const root = join(import.meta.dirname, '..', '..');
const child = join(import.meta.dirname, 'pg-concurrent-appenders-child.ts');
const DURATION_MS = 10_000;
const fresh = freshSchema('writers');
const stores: PostgresEventStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fresh.drop();
});

const open = () => {
  const store = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 3 });
  stores.push(store);
  return store;
};

// Runs the child's appenders; resolves with the writes it acknowledged, as `streamId@version` keys.
function childAppenders(writers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--conditions=chronicle-source', '--import', 'tsx', child, PG_URL, fresh.schema, String(writers), String(DURATION_MS)],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keys: string[] = [];
    let done = false;
    const output = followChild(proc, ([tag, streamId, version, count]) => {
      if (tag === 'done') done = true;
      if (tag !== 'ack') return;
      for (let v = Number(version) - Number(count) + 1; v <= Number(version); v++) keys.push(`${streamId}@${v}`);
    });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code === 0 && done) resolve(keys);
      else reject(new Error(`appender child exited with ${code}: ${output.stderr}`));
    });
  });
}

describe.skipIf(!pgAvailable)('postgres event store: 32 concurrent appenders', () => {
  it('a live subscriber and a projector see every acknowledged event once, in order', { timeout: 90_000 }, async () => {
    const [a, b, reader] = [open(), open(), open()];
    // Migrated before the clock starts, and the child's first appends find the tables.
    await reader.headPosition();
    const watchers = await watch(reader, 'Appended');
    const acknowledged: string[] = [];
    const ack = (streamId: string, version: number, count: number) => {
      for (let v = version - count + 1; v <= version; v++) acknowledged.push(`${streamId}@${v}`);
    };
    const [fromChild] = await Promise.all([
      childAppenders(8),
      runAppenders(a, 'a', 12, DURATION_MS, ack),
      runAppenders(b, 'b', 12, DURATION_MS, ack),
    ]);
    acknowledged.push(...fromChild);
    const head = await a.headPosition();
    await watchers.reach(head, 30_000);
    await watchers.stop();

    const logged = await reader.readAll();
    expect(logged).toHaveLength(acknowledged.length);
    expect(fromChild.length).toBeGreaterThan(0);
    expect(deliveryProblems(acknowledged, watchers.subscribed)).toEqual([]);
    expect(deliveryProblems(acknowledged, watchers.projected())).toEqual([]);
    console.log(
      `32 appenders, ${DURATION_MS} ms: ${acknowledged.length} events acknowledged (${fromChild.length} by the child), ` +
        `last position ${head}; groups a ${JSON.stringify(a.stats())}, b ${JSON.stringify(b.stats())}`,
    );
  });
});
