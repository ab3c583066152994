// Kill -9 a process manager at random points while its commands are going out, restart it, several times, until it has
// caught up over 5,000 triggering events: every command's effect exists exactly once — none missing, none twice —
// because a batch that did not commit is sent again under the same idempotency keys.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { followChild } from './support/child-lines.js';

const TRIGGERS = 5_000;
const KILLS = 5;
const child = fileURLToPath(new URL('./workflows-process-sigkill-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chronicle-pm-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Run = { proc: ChildProcess; position: number; done: boolean; exited: Promise<NodeJS.Signals | null>; stderr(): string };

function start(eventsPath: string, readPath: string, throttleMs: number): Run {
  const proc = spawn(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', child, eventsPath, readPath, String(TRIGGERS)],
    { cwd: root, env: { ...process.env, THROTTLE_MS: String(throttleMs) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const run: Run = {
    proc,
    position: 0,
    done: false,
    exited: new Promise((resolve) => proc.on('exit', (_code, signal) => resolve(signal))),
    stderr: () => out.stderr,
  };
  const out = followChild(proc, ([kind, position]) => {
    if (kind === 'progress') run.position = Number(position);
    if (kind === 'done') run.done = true;
  });
  return run;
}

async function until(what: () => boolean, run: Run, label: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (run.proc.exitCode !== null) throw new Error(`child exited while waiting for ${label}: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// What the files hold between runs: the process's checkpoint and state rows, and every effect by trigger.
async function inspect(eventsPath: string, readPath: string) {
  const events = createSqliteEventStore({ path: eventsPath });
  const read = createSqliteReadStore({ path: readPath });
  try {
    const position = (await read.load('effector'))?.position ?? 0;
    const reader = read.reader('effector');
    const states = reader.get<{ rows: number; once: number }>(
      `SELECT count(*) AS rows, coalesce(sum(CASE WHEN json_extract(data, '$.triggered') = 1 THEN 1 ELSE 0 END), 0) AS once
       FROM ${reader.table('state')}`,
    )!;
    const effects = new Map<number, number>();
    for (const e of await events.readAll({ filter: { types: ['Effected'] } })) {
      const trigger = (e.data as { trigger: number }).trigger;
      effects.set(trigger, (effects.get(trigger) ?? 0) + 1);
    }
    return { position, states, effects };
  } finally {
    await read.close();
    await events.close();
  }
}

describe('process manager under SIGKILL', () => {
  it(`sends every one of ${TRIGGERS.toLocaleString('en-US')} commands with exactly one effect across ${KILLS} kills at random points`, async () => {
    const eventsPath = join(dir, 'events.db');
    const readPath = join(dir, 'read.db');
    const store = createSqliteEventStore({ path: eventsPath });
    for (let from = 0; from < TRIGGERS; from += 500) {
      await store.appendMany(
        Array.from({ length: 500 }, (_, k) => ({
          streamId: `trigger-${from + k}`,
          events: [{ type: 'Triggered', data: { n: from + k } }],
        })),
      );
    }
    expect(await store.headPosition()).toBe(TRIGGERS);
    await store.close();

    // Kill points spread over the run, each at a random place in its own stretch of the log.
    const stretch = TRIGGERS / (KILLS + 1);
    const points = Array.from({ length: KILLS }, (_, k) => Math.floor(stretch * (k + 0.5) + Math.random() * stretch * 0.5));
    let caughtMidBatch = 0;
    let previous = 0;
    // The kills above land between a batch's sends and its commit by chance; should none have (a loaded machine
    // stretches the timing), a few more, each just past the last checkpoint, until one does.
    const planned = points.length;
    for (let k = 0; k < planned + 10; k++) {
      if (k >= planned && (caughtMidBatch > 0 || previous + 500 >= TRIGGERS)) break;
      const point = k < planned ? points[k] : previous + 1;
      if (k >= planned) points.push(point);
      const run = start(eventsPath, readPath, 20);
      await until(() => run.position >= point, run, `progress ${point}`);
      // A little later still, so the kill lands at a random moment of the next batch.
      await new Promise((r) => setTimeout(r, Math.random() * 20));
      run.proc.kill('SIGKILL');
      expect(await run.exited).toBe('SIGKILL');
      const { position, states, effects } = await inspect(eventsPath, readPath);
      expect(position).toBeGreaterThanOrEqual(Math.max(previous, point));
      expect(position).toBeLessThan(TRIGGERS);
      previous = position;
      // Committed: every trigger up to the checkpoint has its state once and its effect once.
      expect(states).toEqual({ rows: position, once: position });
      for (let n = 0; n < position; n++) expect(effects.get(n), `effect of trigger ${n}`).toBe(1);
      // Effects of triggers past the checkpoint were sent by the batch the kill cut short.
      if ([...effects.keys()].some((n) => n >= position)) caughtMidBatch++;
      expect([...effects.values()].every((c) => c === 1)).toBe(true);
    }
    // At least one kill cut a batch between its commands and its commit: that is the case the keys are for.
    expect(caughtMidBatch).toBeGreaterThan(0);

    const last = start(eventsPath, readPath, 0);
    await until(() => last.done, last, 'done', 60_000);
    expect(await last.exited).toBeNull();
    const { position, states, effects } = await inspect(eventsPath, readPath);
    expect(position).toBeGreaterThanOrEqual(TRIGGERS);
    expect(states).toEqual({ rows: TRIGGERS, once: TRIGGERS });
    expect(effects.size).toBe(TRIGGERS);
    const twice = [...effects].filter(([, count]) => count !== 1);
    expect(twice).toEqual([]);
    console.log(
      `killed at checkpoints ${points.join(', ')}; ${caughtMidBatch} of ${points.length} kills landed after sends, before the commit`,
    );
  }, 90_000);
});
