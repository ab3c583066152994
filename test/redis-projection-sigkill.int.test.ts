// Kill -9 a projector writing into Redis mid-run, restart it, and check every event was applied exactly once: the
// batch's rows and its checkpoint reach Redis in one script or not at all.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedisReadStore } from 'chronicle-es/redis';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, freshPrefix } from './redis-prefix.js';
import { REDIS_URL, redisAvailable } from './support/redis.js';

const EVENTS = 10_000;
const child = fileURLToPath(new URL('./redis-projection-sigkill-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const prefix = freshPrefix('sigkill');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-redis-sigkill-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (redisAvailable) await dropPrefix(prefix);
});

function startChild(eventsPath: string, throttleUs: number) {
  const proc = spawn(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', child, eventsPath, REDIS_URL, prefix],
    {
      cwd: root,
      env: { ...process.env, THROTTLE_US: String(throttleUs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
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

/** The checkpoint, and how many positions were applied once, more than once, or past the checkpoint. */
async function readState() {
  const store = createRedisReadStore({ url: REDIS_URL, prefix });
  try {
    const position = (await store.load('counter'))?.position ?? 0;
    let once = 0;
    let twice = 0;
    let beyond = 0;
    let last = 0;
    for await (const [key, applied] of store.reader('counter').table<number>('applied').entries({ count: 1000 })) {
      const at = Number(key);
      if (at > position) beyond++;
      if (applied === 1) once++;
      else twice++;
      last = Math.max(last, at);
    }
    return { position, once, twice, beyond, last };
  } finally {
    await store.close();
  }
}

describe.skipIf(!redisAvailable)('projector into Redis under SIGKILL', () => {
  it('applies each of 10,000 events exactly once across kills and restarts', async () => {
    const eventsPath = join(dir, 'events.db');
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
      const run = startChild(eventsPath, 100);
      const reached = await progressReaching(run.proc, killAt);
      expect(reached, run.stderr()).not.toBe('done');
      run.proc.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
      const state = await readState();
      expect(state.position).toBeGreaterThanOrEqual(killAt);
      expect(state.position).toBeLessThan(EVENTS);
      // Whatever committed is exactly the events up to the checkpoint, each once.
      expect(state).toEqual({ position: state.position, once: state.position, twice: 0, beyond: 0, last: state.position });
    }

    const final = startChild(eventsPath, 0);
    const { code } = await final.exited;
    expect(code, final.stderr()).toBe(0);
    expect(await readState()).toEqual({ position: EVENTS, once: EVENTS, twice: 0, beyond: 0, last: EVENTS });
  }, 120_000);
});
