// Kill -9 a projector mid-run, restart it, and check every event was applied exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const EVENTS = 10_000;
const child = fileURLToPath(new URL('./projection-sigkill-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-projection-sigkill-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function startChild(eventsPath: string, readPath: string, throttleUs: number) {
  const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, eventsPath, readPath], {
    cwd: root,
    env: { ...process.env, THROTTLE_US: String(throttleUs) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, exited, stderr: () => stderr };
}

// Resolves with the first progress position ≥ `atLeast`, or with 'done' if the child finished first.
function progressReaching(proc: ChildProcess, atLeast: number): Promise<number | 'done'> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    proc.stdout!.on('data', (chunk) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [kind, value] = line.split(' ');
        if (kind === 'done') resolve('done');
        if (kind === 'progress' && Number(value) >= atLeast) resolve(Number(value));
      }
    });
    proc.on('exit', () => resolve('done'));
    proc.on('error', reject);
  });
}

function readState(readPath: string) {
  const db = new Database(readPath, { readonly: true });
  try {
    const { generation, position } = db
      .prepare("SELECT generation, position FROM chronicle_projections WHERE name = 'counter'")
      .get() as {
      generation: number;
      position: number;
    };
    const table = `"counter__applied__g${generation}"`;
    const counts = db
      .prepare(`SELECT count(*) AS n, min(applied) AS min, max(applied) AS max, max(position) AS last FROM ${table}`)
      .get() as {
      n: number;
      min: number | null;
      max: number | null;
      last: number | null;
    };
    return { position, ...counts };
  } finally {
    db.close();
  }
}

describe('projector under SIGKILL', () => {
  it('applies each of 10,000 events exactly once across kills and restarts', async () => {
    const eventsPath = join(dir, 'events.db');
    const readPath = join(dir, 'read.db');
    const events = createSqliteEventStore({ path: eventsPath });
    const payload = 'x'.repeat(180);
    for (let batch = 0; batch < EVENTS / 1000; batch++) {
      const writes = Array.from({ length: 100 }, (_, s) => ({
        streamId: `counter-${batch}-${s}`,
        events: Array.from({ length: 10 }, (_, i) => ({ type: 'Counted', data: { n: batch * 1000 + s * 10 + i, payload } })),
      }));
      await events.appendMany(writes);
    }
    const head = await events.headPosition();
    await events.close();
    expect(head).toBe(EVENTS);

    // Two kills: each after some progress, both before the end.
    for (const killAt of [2_000, 5_000]) {
      const run = startChild(eventsPath, readPath, 100);
      const reached = await progressReaching(run.proc, killAt);
      expect(reached, run.stderr()).not.toBe('done');
      run.proc.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
      const state = readState(readPath);
      expect(state.position).toBeGreaterThanOrEqual(killAt);
      expect(state.position).toBeLessThan(EVENTS);
      // Whatever committed is exactly the events up to the checkpoint, each once.
      expect(state).toMatchObject({ n: state.position, min: 1, max: 1, last: state.position });
    }

    const final = startChild(eventsPath, readPath, 0);
    const { code } = await final.exited;
    expect(code, final.stderr()).toBe(0);
    expect(readState(readPath)).toEqual({ position: EVENTS, n: EVENTS, min: 1, max: 1, last: EVENTS });
  }, 120_000);
});
