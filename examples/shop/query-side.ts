// The read store of a `read` process: queries only, with no projector here. Projector workers in other processes fill
// the store; minPosition waits and the change feed are answered from the checkpoints they commit with each batch.
import { type CheckpointWaits, createCheckpointWaits } from 'chronicle-es';
import { createPostgresReadStore } from 'chronicle-es/postgres';
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import type { PostgresLocation, ShopReadStore } from './app.js';
import { type CheckpointChanges, watchCheckpoints } from './checkpoint-changes.js';
import { projections } from './projections/index.js';

export type QuerySide = {
  readStore: ShopReadStore;
  reader: ShopReadStore['reader'];
  waits: CheckpointWaits;
  changes: CheckpointChanges;
  /** True once every projection has its tables and none has failed. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
};

/**
 * Opens the read store for queries: on PostgreSQL at `postgres`, else the SQLite file at `path`.
 * @throws STORE_ERROR (the server cannot be reached), READ_STORE_CORRUPT (the file is damaged)
 */
export async function openQuerySide(options: {
  path: string;
  postgres?: PostgresLocation;
  pollIntervalMs?: number;
}): Promise<QuerySide> {
  const readStore = options.postgres ? createPostgresReadStore(options.postgres) : createSqliteReadStore({ path: options.path });
  try {
    // Reached now, so a wrong URL stops startup rather than every query.
    await readStore.list();
  } catch (err) {
    await readStore.close();
    throw err;
  }
  const names = projections.map((p) => p.name);
  const waits = createCheckpointWaits({ readStore, projections: names, pollIntervalMs: options.pollIntervalMs });
  const changes = watchCheckpoints({ readStore, projections: names, pollIntervalMs: options.pollIntervalMs });
  return {
    readStore,
    reader: (projection) => readStore.reader(projection),
    waits,
    changes,
    async ready() {
      const records = new Map((await readStore.list()).map((r) => [r.name, r]));
      return names.every((name) => {
        const record = records.get(name);
        return record !== undefined && record.generation > 0 && record.failure === undefined;
      });
    },
    async close() {
      changes.close();
      await waits.close();
      await readStore.close();
    },
  };
}
