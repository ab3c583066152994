// Two projector processes on one read-store file (the "split on one host" topology, or two `npm start`s on one
// data dir) race on every batch; the checkpoint's compare-and-set must let exactly one apply each event.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const EVENTS = 10_000;
const child = fileURLToPath(new URL('./projection-two-workers-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-projection-two-workers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function startWorker(eventsPath: string, readPath: string, version: number) {
  const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, eventsPath, readPath], {
    cwd: root,
    env: { ...process.env, THROTTLE_US: '20', VERSION: String(version) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  proc.stdout!.on('data', (chunk) => {
    stdout += chunk;
    if (stdout.includes('ready\n')) onReady();
  });
  proc.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  exited.then(onReady);
  return { proc, ready, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('two projector processes on one read store', () => {
  it('apply each of 10,000 events exactly once between them, and both end at the head', async () => {
    const eventsPath = join(dir, 'events.db');
    const readPath = join(dir, 'read.db');
    const events = createSqliteEventStore({ path: eventsPath });
    for (let batch = 0; batch < EVENTS / 1000; batch++) {
      const writes = Array.from({ length: 100 }, (_, s) => ({
        streamId: `counter-${batch}-${s}`,
        events: Array.from({ length: 10 }, (_, i) => ({ type: 'Counted', data: { n: batch * 1000 + s * 10 + i } })),
      }));
      await events.appendMany(writes);
    }
    expect(await events.headPosition()).toBe(EVENTS);
    await events.close();

    // First both create the projection and catch up; then both raise its version and rebuild it together.
    for (const version of [1, 2]) {
      const workers = [startWorker(eventsPath, readPath, version), startWorker(eventsPath, readPath, version)];
      await Promise.all(workers.map((w) => w.ready));
      for (const w of workers) w.proc.stdin!.end('go\n');
      const codes = await Promise.all(workers.map((w) => w.exited));
      for (const [i, w] of workers.entries()) {
        expect(codes[i], w.stderr()).toBe(0);
        expect(w.stdout()).toContain(`done ${EVENTS} ${EVENTS} live v${version}`);
      }

      const db = new Database(readPath, { readonly: true });
      try {
        const record = db
          .prepare("SELECT version, generation, position, rebuild_generation FROM chronicle_projections WHERE name = 'counter'")
          .get() as { version: number; generation: number; position: number; rebuild_generation: number | null };
        expect(record).toMatchObject({ version, position: EVENTS, rebuild_generation: null });
        const table = `"counter__applied__g${record.generation}"`;
        const counts = db
          .prepare(`SELECT count(*) AS n, min(applied) AS min, max(applied) AS max, sum(applied) AS total FROM ${table}`)
          .get();
        expect(counts).toEqual({ n: EVENTS, min: 1, max: 1, total: EVENTS });
        // How the log split between them varies: SQLite's busy handler often lets one worker win every batch.
        const byWorker = db.prepare(`SELECT worker, count(*) AS n FROM ${table} GROUP BY worker`).all() as Array<{
          worker: number;
          n: number;
        }>;
        console.log(`version ${version}: events applied per worker:`, byWorker.map((w) => w.n).join(', '));
        // The generation swapped out is gone.
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'counter__%'").pluck().all();
        expect(tables).toEqual([table.slice(1, -1)]);
      } finally {
        db.close();
      }
    }
  }, 120_000);
});
