import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createCommandHandler } from 'chronicle-es';
import { describeSnapshotStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteEventStore } from './index.js';

let dir: string;
let files = 0;
const freshPath = () => join(dir, `snapshots-${++files}.db`);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chronicle-sqlite-snapshots-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeSnapshotStoreConformance(
  'sqlite',
  { create: () => createSqliteEventStore({ path: freshPath() }) },
  { describe, it, beforeAll, afterAll },
);

describe('sqlite snapshots', () => {
  it('live in the event store file, survive a reopen, and leave a file that never held one without the table', async () => {
    const path = freshPath();
    let store = createSqliteEventStore({ path });
    const decider = {
      initialState: 0,
      decide: () => [{ type: 'Ticked', data: {} }],
      evolve: (n: number) => n + 1,
    };
    const handler = (s: typeof store) =>
      createCommandHandler({ store: s, decider, streamId: () => 'clock-1', cacheSize: 0, snapshot: { every: 3, version: 1 } });
    await store.append(
      'clock-1',
      Array.from({ length: 5 }, () => ({ type: 'Ticked', data: {} })),
    );
    await handler(store)({ type: 'Tick', data: {} }, {});
    await new Promise((r) => setTimeout(r, 20));
    await store.close();

    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT stream_id, name, version, stream_version, state FROM snapshots').all()).toEqual([
      { stream_id: 'clock-1', name: 'state', version: 1, stream_version: 5, state: '5' },
    ]);
    db.close();

    store = createSqliteEventStore({ path });
    expect(await store.snapshots?.loadSnapshot('clock-1', 'state', 1)).toMatchObject({ streamVersion: 5, state: 5 });
    await expect(handler(store)({ type: 'Tick', data: {} }, {})).resolves.toMatchObject({ version: 7 });
    await store.close();

    const untouched = freshPath();
    const other = createSqliteEventStore({ path: untouched });
    await other.append('s', [{ type: 'A', data: {} }]);
    await other.close();
    const plain = new Database(untouched, { readonly: true });
    expect(plain.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'snapshots'").get()).toEqual({ n: 0 });
    plain.close();
  });
});
