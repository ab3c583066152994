// A checkpoint for a reader of the log that is not a projection (the JetStream relay), kept in a read store as a
// projection record with no tables, so it can live in the read store, or in the event store's own database through a
// read store opened there, with the store's compare-and-set guarding it.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { ProjectionStore } from './projection-store.js';
import { assertReadModelName } from './read-model-name.js';

/** How far a single reader of the log (a relay) got: every event it had to handle up to `load()` is handled. */
export interface RelayCheckpoint {
  /** The position saved last; 0 when nothing was saved yet. @throws STORE_ERROR, CLOSED */
  load(): Promise<number>;
  /**
   * Saves `position`. Never moves the stored value back: a lower one than stored (another reader sharing the
   * checkpoint got further) is a no-op. @throws INVALID_ARGUMENT not a non-negative integer; STORE_ERROR, CLOSED
   */
  save(position: number): Promise<void>;
}

export type StoreCheckpointOptions = {
  /** Any read store: SQLite, PostgreSQL, Redis, in memory. */
  store: Pick<ProjectionStore<unknown, unknown>, 'load' | 'apply' | 'beginGeneration' | 'swapGeneration'>;
  /**
   * The record's name in the store, shared with projections' names (letters, digits, single underscores, starting
   * with a letter): choose one no projection uses, e.g. `relay_orders`.
   */
  name: string;
};

// Compare-and-set rounds lost to other writers of the same record before giving up: each lost round means another
// writer moved it, so only a storm of writers on one record runs out.
const MAX_ROUNDS = 20;

/**
 * A RelayCheckpoint stored in `store` under `name` (a table-less projection record, created at the first save). Every
 * save is a compare-and-set on the stored position, so two relays sharing one never move it back.
 * @throws INVALID_ARGUMENT when `name` is not a valid projection name
 */
export function storeCheckpoint(options: StoreCheckpointOptions): RelayCheckpoint {
  const { store, name } = options ?? ({} as StoreCheckpointOptions);
  if (typeof store?.load !== 'function' || typeof store.apply !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'storeCheckpoint needs a read store (`store`)');
  }
  assertReadModelName('projection', name);
  // The generation and position as last seen: the `after` of the next compare-and-set.
  let known: { generation: number; position: number } | undefined;

  async function current(): Promise<{ generation: number; position: number }> {
    for (let round = 0; ; round++) {
      const record = await store.load(name);
      if (record && record.generation > 0) return { generation: record.generation, position: record.position };
      try {
        // A generation with no tables, swapped in at checkpoint 0 (replacing none, so a concurrent first save by
        // another relay makes one of the two swaps fail and read the winner's).
        const generation = await store.beginGeneration(name, 1);
        await store.swapGeneration(name, generation, 0);
      } catch (err) {
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || round >= MAX_ROUNDS) throw err;
      }
    }
  }

  return {
    async load() {
      const record = await store.load(name);
      if (!record || record.generation === 0) return 0;
      known = { generation: record.generation, position: record.position };
      return record.position;
    },
    async save(position) {
      if (!Number.isSafeInteger(position) || position < 0) {
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          `checkpoint ${name}: position must be a non-negative integer; got ${position}`,
        );
      }
      for (let round = 0; ; round++) {
        known ??= await current();
        if (position <= known.position) return;
        try {
          await store.apply(name, known.generation, undefined, position, known.position);
          known.position = position;
          return;
        } catch (err) {
          if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || round >= MAX_ROUNDS) throw err;
          // Another writer moved it: read it again, and stop if it is already at or past `position`.
          known = undefined;
        }
      }
    },
  };
}
