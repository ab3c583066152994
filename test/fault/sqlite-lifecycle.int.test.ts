// The SQLite lifecycle across processes on one file: appenders in other processes racing a tombstone are either
// removed by it or refused after it, never recreate the stream; and an archive killed (SIGKILL) at a random point
// leaves the stream wholly in the log or wholly in the archive.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { followChild } from '../support/child-lines.js';

const child = fileURLToPath(new URL('./sqlite-lifecycle-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chronicle-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(path: string, ...args: string[]) {
  const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, path, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[][] = [];
  const followed = followChild(proc, (words) => lines.push(words));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, lines, exited, stderr: () => followed.stderr };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('sqlite stream lifecycle across processes', () => {
  it('a tombstone racing appenders in three other processes: none of their events survives, each is then refused', async () => {
    const path = join(dir, 'tombstone.db');
    const store = createSqliteEventStore({ path });
    await store.append('race-x', [{ type: 'Lived', data: { n: 0 } }]);
    const appenders = [start(path, 'append', 'race-x'), start(path, 'append', 'race-x'), start(path, 'append', 'race-x')];
    await until(() => appenders.every((a) => a.lines.filter((l) => l[0] === 'ack').length >= 5), 'every appender to ack');
    await store.lifecycle.tombstone('race-x');
    const ends = await Promise.all(appenders.map((a) => a.exited));
    for (const [i, a] of appenders.entries()) {
      expect(ends[i], a.stderr()).toEqual({ code: 0, signal: null });
      expect(a.lines.at(-1)).toEqual(['refused', 'true']);
    }
    expect((await store.readAll()).filter((e) => e.streamId === 'race-x')).toEqual([]);
    const status = await store.lifecycle.status('race-x');
    expect(status.state).toBe('tombstoned');
    // Its version covers every append acknowledged to any process: all of them were removed by the tombstone.
    const acked = appenders.flatMap((a) => a.lines.filter((l) => l[0] === 'ack').map((l) => Number(l[1])));
    expect(status.version).toBe(Math.max(1, ...acked));
    expect(new Set(acked).size).toBe(acked.length);
    await store.close();
  });

  it('an archive killed at a random point leaves the stream wholly in the log or wholly archived', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 4; round++) {
      const path = join(dir, `archive-${round}.db`);
      const events = 20_000;
      const archiver = start(path, 'archive', 'closed-x', String(events));
      await until(() => archiver.lines.some((l) => l[0] === 'ready'), 'the archiver to be ready');
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      archiver.proc.kill('SIGKILL');
      await archiver.exited;
      const store = createSqliteEventStore({ path });
      const inLog = (await store.readAll()).filter((e) => e.streamId === 'closed-x').length;
      const status = await store.lifecycle.status('closed-x');
      if (status.state === 'archived') {
        expect(inLog).toBe(0);
        expect((await store.lifecycle.readArchived('closed-x')).map((e) => e.version)).toEqual(
          Array.from({ length: events }, (_, i) => i + 1),
        );
        outcomes.push('archived');
      } else {
        expect(status.state).toBe('deleted');
        expect(inLog).toBe(events);
        // Not half-archived: archiving again moves everything.
        expect(await store.lifecycle.archive('closed-x')).toEqual({ archived: events });
        outcomes.push('in the log');
      }
      expect(status.version).toBe(events);
      await store.close();
    }
    expect(outcomes).toHaveLength(4);
  }, 120_000);
});
