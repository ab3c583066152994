// Kill -9 a process in the middle of state-stored commands, between a row's UPDATE and its commit, then check that
// every row agrees with its stream: each committed command left both its row change and its event, none left one alone.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { andThen, type EventStore, type StateStoredStore, type WriteTx } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

const child = fileURLToPath(new URL('./state-stored-sigkill-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-state-stored-sigkill-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function startChild(args: string[]) {
  const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (_, signal) => resolve({ signal })));
  return { proc, exited, stderr: () => stderr };
}

// Resolves at the `saved <n>` line with n ≥ `atLeast`: that command's row is changed and its transaction still open.
function savedReaching(proc: ChildProcess, atLeast: number): Promise<number | 'exited'> {
  return new Promise((resolve) => {
    let buffer = '';
    proc.stdout!.on('data', (chunk) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [kind, value] = line.split(' ');
        if (kind === 'saved' && Number(value) >= atLeast) resolve(Number(value));
      }
    });
    proc.on('exit', () => resolve('exited'));
  });
}

type Store = EventStore & StateStoredStore<WriteTx>;

// Each row against its stream: its version is the stream's, its balance the sum of the stream's amounts.
async function check(store: Store, table: string) {
  let rows: Array<{ id: string; balance: number; version: number }> = [];
  await store.transact((tx) =>
    andThen(tx.all<{ id: string; balance: number; version: number }>(`SELECT id, balance, version FROM ${table}`), (all) => {
      rows = all;
      return [];
    }),
  );
  let commands = 0;
  for (const row of rows) {
    const events = await store.readStream(`account-${row.id}`);
    const sum = events.reduce((n, e) => n + (e.data as { amount: number }).amount, 0);
    expect({ id: row.id, balance: Number(row.balance), version: Number(row.version) }).toEqual({
      id: row.id,
      balance: sum,
      version: events.length,
    });
    commands += events.length;
  }
  // No stream without its row either.
  const streams = new Set((await store.readAll()).filter((e) => e.streamId.startsWith('account-')).map((e) => e.streamId));
  expect([...streams].sort()).toEqual(rows.map((r) => `account-${r.id}`).sort());
  return commands;
}

async function killTwice(args: string[], open: () => Store, table: string) {
  let before = 0;
  for (const extra of [20 + Math.floor(Math.random() * 40), 30 + Math.floor(Math.random() * 40)]) {
    const run = startChild(args);
    const reached = await savedReaching(run.proc, extra);
    expect(reached, run.stderr()).not.toBe('exited');
    run.proc.kill('SIGKILL');
    expect((await run.exited).signal).toBe('SIGKILL');
    const store = open();
    try {
      const commands = await check(store, table);
      // Each run committed some commands, and the one killed mid-transaction left nothing.
      expect(commands).toBeGreaterThan(before);
      before = commands;
    } finally {
      await store.close();
    }
  }
}

describe('state-stored commands under SIGKILL', () => {
  it('sqlite: a kill between the row update and the commit leaves neither', async () => {
    const path = join(dir, 'store.db');
    await killTwice(['sqlite', path], () => createSqliteEventStore({ path }), 'accounts');
  }, 60_000);

  it.skipIf(!pgAvailable)(
    'postgres: a kill between the row update and the commit leaves neither',
    async () => {
      const fresh = freshSchema('sskill');
      try {
        await killTwice(
          ['postgres', PG_URL, fresh.schema],
          () => createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema }),
          `"${fresh.schema}".accounts`,
        );
      } finally {
        await fresh.drop();
      }
    },
    60_000,
  );
});
