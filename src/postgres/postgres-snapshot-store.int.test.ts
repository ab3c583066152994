import { createCommandHandler } from 'chronicle-es';
import { describeSnapshotStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresEventStore } from './index.js';

const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

describe.skipIf(!pgAvailable)('postgres snapshots', () => {
  describeSnapshotStoreConformance(
    'postgres',
    {
      create: () => {
        const fresh = freshSchema('snap');
        schemas.push(fresh);
        return createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
      },
    },
    { describe, it, beforeAll, afterAll },
  );
});

describe.skipIf(!pgAvailable)('postgres snapshots in a command handler', () => {
  it('are saved in the schema and read by a handler in another pool, trusted only while the stream vouches for them', async () => {
    const fresh = freshSchema('snap');
    schemas.push(fresh);
    const open = () => createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
    const [first, second] = [open(), open()];
    try {
      const decider = { initialState: 0, decide: () => [{ type: 'Ticked', data: {} }], evolve: (n: number) => n + 1 };
      const handler = (store: typeof first) =>
        createCommandHandler({ store, decider, streamId: () => 'clock-1', cacheSize: 0, snapshot: { every: 3, version: 1 } });
      await first.append(
        'clock-1',
        Array.from({ length: 5 }, () => ({ type: 'Ticked', data: {} })),
      );
      await handler(first)({ type: 'Tick', data: {} }, {});
      await new Promise((r) => setTimeout(r, 100));
      expect(await second.snapshots?.loadSnapshot('clock-1', 'state', 1)).toMatchObject({ streamVersion: 5, state: 5 });
      // A snapshot claiming more than the stream holds is not believed.
      await second.snapshots?.saveSnapshot({
        streamId: 'clock-1',
        name: 'state',
        version: 1,
        streamVersion: 99,
        position: 99,
        state: 1000,
      });
      let seen: number | undefined;
      const watching = createCommandHandler({
        store: second,
        decider: {
          ...decider,
          decide: (_c: unknown, n: number) => {
            seen = n;
            return decider.decide();
          },
        },
        streamId: () => 'clock-1',
        cacheSize: 0,
        snapshot: { every: 3, version: 1 },
      });
      await expect(watching({ type: 'Tick', data: {} }, {})).resolves.toMatchObject({ version: 7 });
      expect(seen).toBe(6);
      // The load that did not believe it saved what it folded in its place.
      await new Promise((r) => setTimeout(r, 100));
      expect(await first.snapshots?.loadSnapshot('clock-1', 'state', 1)).toMatchObject({ streamVersion: 6, state: 6 });
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
