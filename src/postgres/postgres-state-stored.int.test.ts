// The shipped state-stored conformance cases against the real PostgreSQL, the write tables in the store's own schema.
import { describeStateStoredConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgStoreFixture } from '../../test/support/pg-store-fixture.js';
import { pgAvailable } from '../../test/support/postgres.js';

const { fresh, open } = pgStoreFixture('statestored', 8);

describe.skipIf(!pgAvailable)('postgres', () => {
  describeStateStoredConformance(
    'postgres',
    { create: open, createPeer: open, table: (name) => `"${fresh.schema}".${name}` },
    { describe, it, beforeAll, afterAll },
  );
});

describe.skipIf(!pgAvailable)('postgres state-stored: close', () => {
  it('commands accepted before close still commit; calls after it are CLOSED', async () => {
    const store = open();
    const table = `"${fresh.schema}".closing`;
    await store.transact(async (tx) => {
      await tx.run(`CREATE TABLE ${table} (n INTEGER NOT NULL)`);
      return [];
    });
    const accepted = Array.from({ length: 20 }, (_, n) =>
      store.transact(async (tx) => {
        await tx.run(`INSERT INTO ${table} (n) VALUES (?)`, [n]);
        return [{ streamId: `closing-${n}`, events: [{ type: 'Closed', data: { n } }] }];
      }),
    );
    // Closed at once: they are still on their way to the queue (transact awaits the store's migration first).
    await store.close();
    const results = await Promise.all(accepted);
    expect(results.every(([r]) => r.version === 1)).toBe(true);
    await expect(store.transact(() => [])).rejects.toMatchObject({ code: 'CLOSED' });
    const check = open();
    let count = 0;
    await check.transact(async (tx) => {
      count = Number((await tx.get<{ c: number }>(`SELECT count(*) AS c FROM ${table}`))?.c);
      return [];
    });
    expect(count).toBe(20);
  });
});
