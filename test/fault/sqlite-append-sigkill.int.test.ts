import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordedEvent } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followChild } from '../support/child-lines.js';

const root = join(import.meta.dirname, '..', '..');
const child = join(import.meta.dirname, 'sqlite-append-burst-child.ts');
const ACKS_BEFORE_KILL = 400;

type Ack = { streamId: string; version: number; position: number; count: number; key: string | undefined };

// Runs the burst child until it has acknowledged `acks` appends, then SIGKILLs it; returns every complete ack line.
function burstThenKill(path: string, acks: number): Promise<{ acks: Ack[]; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, path], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seen: Ack[] = [];
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const output = followChild(proc, ([tag, streamId, version, position, count, key]) => {
      if (tag !== 'ack') return;
      seen.push({
        streamId,
        version: Number(version),
        position: Number(position),
        count: Number(count),
        key: key === '-' ? undefined : key,
      });
      if (seen.length >= acks && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL');
    });
    proc.on('error', reject);
    proc.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve({ acks: seen, signal, stderr: output.stderr });
    });
  });
}

describe('sqlite event store under kill -9', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chronicle-sigkill-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged append, with its version and position, and no gaps or duplicates', async () => {
    const path = join(dir, 'burst.db');
    const run = await burstThenKill(path, ACKS_BEFORE_KILL);
    expect(run.stderr).not.toMatch(/append failed/);
    expect(run.signal, 'the child must die by SIGKILL mid-burst, not exit').toBe('SIGKILL');
    expect(run.acks.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);

    const store = createSqliteEventStore({ path });
    try {
      const log = await store.readAll();
      expect(log.map((e) => e.position)).toEqual(log.map((_, i) => i + 1));
      expect(new Set(log.map((e) => e.id)).size).toBe(log.length);

      const byStream = new Map<string, RecordedEvent[]>();
      for (const e of log) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e]);
      for (const [streamId, events] of byStream) {
        expect(
          events.map((e) => e.version),
          streamId,
        ).toEqual(events.map((_, i) => i + 1));
        expect((await store.streamInfo(streamId)).version).toBe(events.length);
      }

      for (const ack of run.acks) {
        const last = log[ack.position - 1];
        expect(last, `ack at position ${ack.position}`).toBeDefined();
        expect([last.streamId, last.version]).toEqual([ack.streamId, ack.version]);
        // The whole append is there: `count` events of one call, the same `n`, ending at the acked position.
        const written = log.slice(ack.position - ack.count, ack.position);
        expect(written.map((e) => [e.streamId, e.version])).toEqual(
          written.map((_, i) => [ack.streamId, ack.version - ack.count + 1 + i]),
        );
        expect(new Set(written.map((e) => (e.data as { n: number }).n)).size).toBe(1);
        if (ack.key !== undefined) {
          expect(await store.findIdempotentResult(ack.key)).toEqual([
            { streamId: ack.streamId, version: ack.version, position: ack.position, duplicate: true },
          ]);
        }
      }
      // The recovered file takes writes again, continuing the log where it stopped.
      const after = await store.append('burst-0', [{ type: 'Burst', data: { n: -1, i: 0 } }]);
      expect(after.position).toBe(log.length + 1);
      expect(after.version).toBe((byStream.get('burst-0')?.length ?? 0) + 1);
    } finally {
      await store.close();
    }
  });
});
