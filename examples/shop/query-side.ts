// The read store of a `read` process: queries only, with no projector here. Projector workers in other processes fill
// the store; minPosition waits and the change feed are answered from the checkpoints they commit with each batch.
import { type CheckpointWaits, createCheckpointWaits } from 'chronicle-es';
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import type { ShopReadStore } from './app.js';
import { type CheckpointChanges, watchCheckpoints } from './checkpoint-changes.js';
import { projections } from './projections/index.js';
import { portable } from './sqlite-interim.js';

export type QuerySide = {
  readStore: ShopReadStore;
  reader: ShopReadStore['reader'];
  waits: CheckpointWaits;
  changes: CheckpointChanges;
  /** True once every projection has its tables and none has failed. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
};

/** Opens the read store at `path` for queries. @throws STORE_ERROR, READ_STORE_CORRUPT */
export async function openQuerySide(options: { path: string; pollIntervalMs?: number }): Promise<QuerySide> {
  const readStore = portable(createSqliteReadStore({ path: options.path }));
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
