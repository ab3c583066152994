// The stock cases of stock-conflicts.ts on a SQLite file (its group commit puts the racing appends in one
// transaction, each condition checked in its own savepoint) and on PostgreSQL (a pool of connections).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { describe } from 'vitest';
import { freshSchema, pgAvailable } from '../../../test/support/postgres.js';
import { describeStockConflicts } from './stock-conflicts.js';

describeStockConflicts('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shop-stock-'));
  const store = createSqliteEventStore({ path: join(dir, 'events.db') });
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe.skipIf(!pgAvailable)('on PostgreSQL', () => {
  describeStockConflicts(
    'PostgreSQL',
    async () => {
      const schema = freshSchema('shop_stock');
      const store = createPostgresEventStore({ connectionString: schema.connectionString, schema: schema.schema, poolSize: 4 });
      return {
        store,
        async close() {
          await store.close();
          await schema.drop();
        },
      };
    },
    { sameHead: false },
  );
});
