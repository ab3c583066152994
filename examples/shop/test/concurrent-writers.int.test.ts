// 16 concurrent writers on one stream through HTTP, over two write nodes on PostgreSQL that retry no conflict at all:
// every acknowledged command's effect is in the stream exactly once, and every refused one answers 409 problem+json
// and left nothing behind.
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../../../test/support/postgres.js';
import { type Cluster, createCluster, type Node } from './pg-cluster.js';
import { restockRace } from './restock-race.js';

let cluster: Cluster;
let writers: Node[];
beforeAll(async () => {
  if (!pgAvailable) return;
  cluster = await createCluster();
  writers = [await cluster.start('write', { SHOP_COMMAND_RETRIES: '0' })];
  writers.push(await cluster.start('write', { SHOP_COMMAND_RETRIES: '0' }));
}, 120_000);
afterAll(() => cluster?.close(), 30_000);

describe.skipIf(!pgAvailable)('16 writers on one stream, no retries', () => {
  it('keeps every acknowledged update; the conflicts answer 409 and wrote nothing', async () => {
    const eventStore = createPostgresEventStore({ connectionString: cluster.eventsUrl, schema: cluster.schema, poolSize: 3 });
    try {
      const race = await restockRace(writers, eventStore, 'contended');
      expect(race.acked.length + race.conflicts.length).toBe(160);
      // With no retry, writers that read the same version cannot all land: some must have been refused.
      expect(race.conflicts.length).toBeGreaterThan(0);
      for (const conflict of race.conflicts) {
        expect(conflict.type).toMatch(/^application\/problem\+json/);
        expect(conflict.body).toMatchObject({ status: 409, code: 'CONCURRENCY_CONFLICT' });
      }
      expect(race.stream.sort((x, y) => x - y)).toEqual(race.acked.sort((x, y) => x - y));
      console.log(JSON.stringify({ test: 'concurrent-writers', acked: race.acked.length, conflicts: race.conflicts.length }));
    } finally {
      await eventStore.close();
    }
  }, 60_000);
});
