import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Query } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followChild } from '../support/child-lines.js';

const root = join(import.meta.dirname, '..', '..');
const childScript = join(import.meta.dirname, 'sqlite-stock-race-child.ts');
const CHILDREN = 4;
const WORKERS = 4;

type Child = {
  proc: ChildProcess;
  acks: number[];
  done?: { reserved: number; conflicts: number };
  readonly stderr: string;
  ready: Promise<void>;
  exited: Promise<NodeJS.Signals | null>;
};

function startChild(path: string, product: string, cap: number): Child {
  const proc = spawn(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', childScript, path, product, String(cap), String(WORKERS)],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let markReady = () => {};
  const child: Child = {
    proc,
    acks: [],
    get stderr() {
      return output.stderr;
    },
    ready: new Promise<void>((resolve) => {
      markReady = resolve;
    }),
    exited: new Promise((resolve, reject) => {
      proc.on('error', reject);
      proc.on('close', (_code, signal) => resolve(signal));
    }),
  };
  const output = followChild(proc, ([tag, a, b]) => {
    if (tag === 'ready') markReady();
    else if (tag === 'ack') child.acks.push(Number(a));
    else if (tag === 'done') child.done = { reserved: Number(a), conflicts: Number(b) };
  });
  return child;
}

// Starts the children, lets them all go at once, and (optionally) SIGKILLs the first to sell at a random moment after its
// first reservation; resolves when every child has ended.
async function race(path: string, product: string, cap: number, kill: boolean): Promise<{ children: Child[]; victim?: number }> {
  const children = Array.from({ length: CHILDREN }, () => startChild(path, product, cap));
  const guard = setTimeout(() => {
    for (const c of children) c.proc.kill('SIGKILL');
  }, 60_000);
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.stdin?.write('go\n');
    let victim: number | undefined;
    if (kill) {
      // The first child to make a sale is surely in the race: a random one may, on a loaded machine, get its first
      // sale in so late that the stock runs out before the kill lands.
      const delayMs = Math.floor(Math.random() * 25);
      const listeners = children.map((target, i) => {
        const onData = () => {
          if (victim !== undefined || target.acks.length === 0) return;
          victim = i;
          for (const [j, c] of children.entries()) c.proc.stdout?.off('data', listeners[j]);
          setTimeout(() => target.proc.kill('SIGKILL'), delayMs);
        };
        target.proc.stdout?.on('data', onData);
        return onData;
      });
    }
    await Promise.all(children.map((c) => c.exited));
    return { children, victim };
  } finally {
    clearTimeout(guard);
  }
}

// What the store holds for the product, read back by a fresh store after every child has gone.
async function reservations(path: string, product: string) {
  const store = createSqliteEventStore({ path });
  try {
    const query: Query = [{ types: ['StockReserved'], tags: [`product:${product}`] }];
    const { events } = await store.read(query);
    const log = await store.readAll();
    return { events, log };
  } finally {
    await store.close();
  }
}

describe('sqlite conditional appends across processes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chronicle-stock-race-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`sells exactly the stock when ${CHILDREN} processes × ${WORKERS} deciders race for it, and again after a kill -9`, async () => {
    const path = join(dir, 'stock.db');
    // The file exists at the current schema before the children race to open it.
    await createSqliteEventStore({ path }).close();

    // 200, not fewer: with a small stock one process, let go a little earlier on a loaded machine, can sell it all
    // before the others start, and the race the test claims would not have happened.
    const first = await race(path, 'p1', 200, false);
    for (const c of first.children) {
      expect(c.stderr).not.toMatch(/race child failed/);
      expect(c.done, 'every child ends by seeing the stock gone').toBeDefined();
    }
    const acked = first.children.flatMap((c) => c.acks);
    expect(acked).toHaveLength(200);
    expect(first.children.reduce((n, c) => n + (c.done?.reserved ?? 0), 0)).toBe(200);
    // The race was real: deciders lost to one another, and more than one process made sales.
    expect(first.children.reduce((n, c) => n + (c.done?.conflicts ?? 0), 0)).toBeGreaterThan(0);
    expect(first.children.filter((c) => c.acks.length > 0).length).toBeGreaterThan(1);
    const p1 = await reservations(path, 'p1');
    expect(p1.events).toHaveLength(200);
    expect(p1.events.map((e) => e.position).sort((a, b) => a - b)).toEqual([...acked].sort((a, b) => a - b));

    const second = await race(path, 'p2', 200, true);
    const victim = second.children[second.victim as number];
    expect(await victim.exited, 'the victim dies by SIGKILL mid-race, not by running out of stock').toBe('SIGKILL');
    expect(victim.done).toBeUndefined();
    for (const c of second.children) {
      expect(c.stderr).not.toMatch(/race child failed/);
      if (c !== victim) expect(c.done, 'survivors end by seeing the stock gone').toBeDefined();
    }
    const p2 = await reservations(path, 'p2');
    // Exactly the cap: the survivors sold what the victim did not, and nothing the victim had not acknowledged
    // reappears twice (a reservation it committed but had not printed still counts once).
    expect(p2.events).toHaveLength(200);
    const stored = new Set(p2.events.map((e) => e.position));
    for (const position of second.children.flatMap((c) => c.acks)) expect(stored.has(position), `ack ${position}`).toBe(true);
    // The log stays whole: contiguous positions, p1's reservations untouched.
    expect(p2.log.map((e) => e.position)).toEqual(p2.log.map((_, i) => i + 1));
    expect(p2.log.filter((e) => e.tags.includes('product:p1'))).toHaveLength(200);
  }, 90_000);
});
