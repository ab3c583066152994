// A read-store file damaged while closed (pages overwritten, or a garbage header) is reported as READ_STORE_CORRUPT,
// at open or by the first statement that meets it, and can be set aside for a fresh one.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChronicleError,
  createProjector,
  defineProjection,
  isChronicleError,
  type Projector,
  type RecordedEvent,
} from 'chronicle-es';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { corruptHeader, corruptPages } from '../../test/support/corrupt-file.js';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadStore, type SqliteReadTx } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-read-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const file = (name: string) => join(dir, `${name}-${++fileNo}.db`);

const open: Array<{ close(): Promise<void> }> = [];
const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
  await Promise.all(open.splice(0).map((s) => s.close()));
});
const readStoreAt = (path: string, options: { quickCheck?: boolean; onCorrupt?: (err: ChronicleError) => void } = {}) => {
  const store = createSqliteReadStore({ path, ...options });
  open.push(store);
  return store;
};

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const notes = (name: string, type = 'Noted') =>
  defineProjection<SqliteReadTx>({
    name,
    version: 1,
    setup: (tx) => tx.run(`CREATE TABLE ${tx.table('notes')} (id INTEGER PRIMARY KEY, text TEXT NOT NULL)`),
    handlers: {
      [type]: (event: RecordedEvent, tx: SqliteReadTx) =>
        tx.run(`INSERT INTO ${tx.table('notes')} (id, text) VALUES (?, ?)`, [
          event.position,
          (event.data as { text: string }).text,
        ]),
    },
  });

/** A read store file of a few hundred pages (one projection's table), closed. */
async function filledReadStore(path: string): Promise<void> {
  const store = createSqliteReadStore({ path });
  const generation = await store.beginGeneration('notes', 1, (tx) =>
    tx.run(`CREATE TABLE ${tx.table('notes')} (id INTEGER PRIMARY KEY, text TEXT NOT NULL)`),
  );
  await store.swapGeneration('notes', generation, 0);
  await store.apply(
    'notes',
    generation,
    (tx) => {
      for (let i = 1; i <= 4000; i++)
        tx.run(`INSERT INTO ${tx.table('notes')} (id, text) VALUES (?, ?)`, [i, `note ${i} `.repeat(8)]);
    },
    4000,
    0,
  );
  await store.close();
}

const countNotes = (store: SqliteReadStore) => {
  const reader = store.reader('notes');
  return reader.get<{ n: number; bytes: number }>(
    `SELECT count(*) AS n, sum(length(text)) AS bytes FROM ${reader.table('notes')}`,
  );
};

describe('a read store over a damaged file', () => {
  it('is sound before the damage (so what follows is the damage speaking)', async () => {
    const path = file('sound');
    await filledReadStore(path);
    const store = readStoreAt(path);
    expect(countNotes(store)?.n).toBe(4000);
    expect(store.corruption()).toBeUndefined();
  });

  it('fails its quick check at open with READ_STORE_CORRUPT when pages in its middle are overwritten', async () => {
    const path = file('middle');
    await filledReadStore(path);
    expect(corruptPages(path)).toBeGreaterThan(10);
    const err = caught(() => readStoreAt(path));
    expect(isChronicleError(err, 'READ_STORE_CORRUPT'), String(err)).toBe(true);
    expect((err as ChronicleError).message).toContain('quick check');
    expect((err as ChronicleError).details.problems).toEqual(expect.arrayContaining([expect.any(String)]));
  });

  it('without the quick check, raises READ_STORE_CORRUPT (the driver error as cause) on the first statement that reads a damaged page, and on every one after', async () => {
    const path = file('lazy');
    await filledReadStore(path);
    corruptPages(path);
    const reports: ChronicleError[] = [];
    const store = readStoreAt(path, { quickCheck: false, onCorrupt: (e) => reports.push(e) });
    // The projections table is on an intact page: the store opens and answers until a damaged page is read.
    expect((await store.list()).map((r) => r.name)).toEqual(['notes']);
    const err = caught(() => countNotes(store));
    expect(isChronicleError(err, 'READ_STORE_CORRUPT'), String(err)).toBe(true);
    const cause = (err as ChronicleError).cause as { code?: string };
    expect(cause.code).toMatch(/^SQLITE_CORRUPT/);
    expect((err as ChronicleError).details.sql).toContain('count(*)');
    expect(reports).toHaveLength(1);
    expect(store.corruption()).toBe(err);
    // From now on nothing read from the file is trusted, even what sits on intact pages; the listener hears once.
    expect(isChronicleError(await rejected(store.list()), 'READ_STORE_CORRUPT')).toBe(true);
    expect(isChronicleError(await rejected(store.apply('notes', 1, undefined, 4001, 4000)), 'READ_STORE_CORRUPT')).toBe(true);
    expect(reports).toHaveLength(1);
  });

  it('reports a garbage header (not a database any more) as READ_STORE_CORRUPT at open, with or without the quick check', async () => {
    for (const quickCheck of [true, false]) {
      const path = file('header');
      await filledReadStore(path);
      corruptHeader(path);
      const err = caught(() => readStoreAt(path, { quickCheck }));
      expect(isChronicleError(err, 'READ_STORE_CORRUPT'), String(err)).toBe(true);
      expect(((err as ChronicleError).cause as { code?: string }).code).toBe('SQLITE_NOTADB');
    }
  });

  it('sets the damaged file aside (kept byte for byte) and goes on, readers included, on a fresh one at the same path', async () => {
    const path = file('aside');
    await filledReadStore(path);
    corruptPages(path);
    const damaged = readFileSync(path);
    const store = readStoreAt(path, { quickCheck: false });
    const reader = store.reader('notes');
    expect(
      isChronicleError(
        caught(() => countNotes(store)),
        'READ_STORE_CORRUPT',
      ),
    ).toBe(true);

    const aside = await store.setAside();
    expect(aside).toMatch(/\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    expect(readFileSync(aside!).equals(damaged)).toBe(true);
    expect(existsSync(path)).toBe(true);
    expect(store.corruption()).toBeUndefined();
    expect(await store.list()).toEqual([]);
    // The reader made before the swap reads the new file: no tables yet.
    expect(
      isChronicleError(
        caught(() => reader.table('notes')),
        'NOT_FOUND',
      ),
    ).toBe(true);
    const generation = await store.beginGeneration('notes', 1, (tx) =>
      tx.run(`CREATE TABLE ${tx.table('notes')} (id INTEGER PRIMARY KEY, text TEXT)`),
    );
    await store.swapGeneration('notes', generation, 0);
    expect(countNotes(store)?.n).toBe(0);
  });

  it('lets a damaged event store stay a STORE_ERROR: only the read side is disposable', async () => {
    const path = file('events');
    const events = createSqliteEventStore({ path });
    for (let i = 0; i < 40; i++)
      await events.append(
        `s-${i}`,
        Array.from({ length: 50 }, () => ({ type: 'Noted', data: { text: 'x'.repeat(200) } })),
      );
    await events.close();
    corruptPages(path);
    let err: unknown;
    try {
      const reopened = createSqliteEventStore({ path });
      open.push(reopened);
      await reopened.readAll({ from: 1, limit: 10_000 });
    } catch (e) {
      err = e;
    }
    expect(isChronicleError(err, 'STORE_ERROR'), String(err)).toBe(true);
  });
});

describe('the projector over a damaged read store', () => {
  it('marks every projection on it failed with READ_STORE_CORRUPT, rejects waits, and keeps the process up', async () => {
    // beta handles no event that comes next: it only moves its checkpoint (an intact page), before alpha meets the
    // damage writing its notes. The damage is the file's, so beta must stop too rather than report itself live.
    const eventsPath = file('proj-events');
    const readPath = file('proj-read');
    const events = createSqliteEventStore({ path: eventsPath });
    open.push(events);
    const defs = [notes('beta', 'Other'), notes('alpha')];
    let store = createSqliteReadStore({ path: readPath });
    let projector = createProjector({ eventStore: events, readStore: store, projections: defs, pollIntervalMs: 10 });
    for (let i = 0; i < 20; i++) {
      await events.append(
        `n-${i}`,
        Array.from({ length: 100 }, (_, k) => ({ type: 'Noted', data: { text: `${i}/${k} `.repeat(10) } })),
      );
    }
    await projector.start();
    await projector.waitForPosition(await events.headPosition(), { timeoutMs: 10_000 });
    await projector.stop();
    await store.close();

    corruptPages(readPath, { from: 0.1, to: 0.9 });
    store = readStoreAt(readPath, { quickCheck: false });
    projector = createProjector({ eventStore: events, readStore: store, projections: defs, pollIntervalMs: 10 });
    projectors.push(projector);
    await projector.start();
    // New events make one projection write into the damaged pages; neither may stay live.
    const { position } = await events.append('n-late', [{ type: 'Noted', data: { text: 'late' } }]);
    await expect
      .poll(async () => (await projector.status()).map((s) => s.state), { timeout: 10_000 })
      .toEqual(['failed', 'failed']);
    expect((await projector.status()).map((s) => s.name)).toEqual(['beta', 'alpha']);
    for (const status of await projector.status()) {
      expect(status.lastError?.code, status.name).toBe('READ_STORE_CORRUPT');
      expect(status.lastError?.message).toMatch(/malformed|damaged|not a database/);
    }
    const wait = await rejected(projector.waitForPosition(position, { timeoutMs: 5000 }));
    expect(isChronicleError(wait, 'PROJECTION_FAILED'), String(wait)).toBe(true);
    // The event store, the truth, is untouched and still takes writes.
    expect((await events.append('n-after', [{ type: 'Noted', data: { text: 'after' } }])).position).toBe(position + 1);
  });
});
