// `npm run rebuild-read-store`: rebuilds the read store from the event log, with the Shop stopped. The new file is
// built beside the old one and takes its place only when complete; the old one is kept as read.db.corrupt-<time>
// (it failed its check) or read.db.old-<time>. The event store is only read.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ChronicleError, createProjector, isChronicleError } from 'chronicle-es';
import { createSqliteReadStore, setAsideFile } from 'chronicle-es/sqlite';
import { projections } from './projections/index.js';
import { openShopEventStore } from './shop-event-store.js';

export type RebuildReport = { readStore: string; movedTo?: string; wasDamaged: boolean; position: number; ms: number };

/** Builds a fresh read store at `readStorePath` from the event store at `eventStorePath`. @throws STORE_ERROR, NOT_FOUND (no event store) */
export async function rebuildReadStore(options: {
  eventStorePath: string;
  readStorePath: string;
  progress?: (done: { projection: string; position: number; target: number }) => void;
}): Promise<RebuildReport> {
  const { eventStorePath, readStorePath } = options;
  const started = Date.now();
  if (!existsSync(eventStorePath)) throw new ChronicleError('NOT_FOUND', `no event store at ${eventStorePath}`);
  const building = `${readStorePath}.rebuilding`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(building + suffix, { force: true });

  // Through the key store, as the Shop reads it: personal fields decrypted, or "[forgotten]".
  const eventStore = openShopEventStore({ path: eventStorePath });
  try {
    const target = await eventStore.headPosition();
    const readStore = createSqliteReadStore({ path: building, secureDelete: true });
    const projector = createProjector({ eventStore, readStore, projections });
    const unsubscribe = options.progress
      ? projector.onChange(({ projection, position }) => options.progress?.({ projection, position, target }))
      : undefined;
    try {
      await projector.start();
      await projector.waitForPosition(target, { timeoutMs: 2 ** 31 - 1 });
    } finally {
      unsubscribe?.();
      await projector.stop();
      await readStore.close();
    }

    let wasDamaged = false;
    if (existsSync(readStorePath)) {
      try {
        await createSqliteReadStore({ path: readStorePath }).close();
      } catch (err) {
        if (!isChronicleError(err, 'READ_STORE_CORRUPT')) throw err;
        wasDamaged = true;
      }
    }
    const movedTo = setAsideFile(readStorePath, wasDamaged ? 'corrupt' : 'old');
    // Closing checkpointed the new file's WAL into it, so the file alone is the whole store.
    renameSync(building, readStorePath);
    for (const suffix of ['-wal', '-shm']) rmSync(building + suffix, { force: true });
    return { readStore: readStorePath, ...(movedTo && { movedTo }), wasDamaged, position: target, ms: Date.now() - started };
  } finally {
    await eventStore.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dataDir = process.env.DATA_DIR ?? './data';
  const readStorePath = process.env.READ_STORE_PATH ?? join(dataDir, 'read.db');
  let last = 0;
  try {
    const report = await rebuildReadStore({
      eventStorePath: join(dataDir, 'events.db'),
      readStorePath,
      progress({ projection, position, target }) {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        console.log(JSON.stringify({ msg: 'rebuilding', projection, position, target }));
      },
    });
    console.log(JSON.stringify({ msg: 'read store rebuilt', ...report }));
  } catch (err) {
    console.error(JSON.stringify({ msg: 'rebuild failed', error: err instanceof Error ? err.message : String(err) }));
    process.exit(1);
  }
}
