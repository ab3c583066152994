// Given/Then for projections: given these events, then the read model looks like this.
import assert from 'node:assert/strict';
import {
  ChronicleError,
  createInMemoryEventStore,
  createProjector,
  type NewEvent,
  type Projection,
  type ProjectionStore,
  withUpcasting,
} from 'chronicle-es';

/** An event for a projection scenario; `streamId` defaults to `spec-1`. */
export type GivenEvent = NewEvent & { streamId?: string };

export type ProjectionSpecOptions<Tx, Reader> = {
  /** A fresh read store per scenario; the scenario closes it when done. */
  readStore: () => ProjectionStore<Tx, Reader> | Promise<ProjectionStore<Tx, Reader>>;
};

export type ProjectionThen<Reader> = {
  /** Projects the events, then runs `assertions` against the projection's reader. @throws PROJECTION_FAILED when a handler throws */
  then(assertions: (reader: Reader) => void | Promise<void>): Promise<void>;
  /**
   * Projects the events, then asserts `table` holds exactly `rows`, in any order. Works with readers whose `table()`
   * returns a Map (in-memory: its values) or a SQL table name with `all()` (SQLite: `SELECT *`).
   */
  expectRows(table: string, rows: readonly unknown[]): Promise<void>;
};

/** Starts a projection scenario: `projectionSpec(p, { readStore }).given([...]).then(reader => …)`. Runner-agnostic (node:assert). */
export function projectionSpec<Tx, Reader>(projection: Projection<Tx>, options: ProjectionSpecOptions<Tx, Reader>) {
  return {
    given(events: readonly GivenEvent[]): ProjectionThen<Reader> {
      const run = async (assertions: (reader: Reader) => void | Promise<void>) => {
        // Given events are written as today's code writes them: stamped with their definition's current version
        // (one given with an older metadata.schemaVersion is upcast like a stored one).
        const eventStore = withUpcasting(createInMemoryEventStore(), projection.events ?? []);
        const readStore = await options.readStore();
        const projector = createProjector({ eventStore, readStore, projections: [projection], pollIntervalMs: 10 });
        try {
          for (const { streamId = 'spec-1', ...event } of events) await eventStore.append(streamId, [event]);
          await projector.start();
          await projector.waitForPosition(await eventStore.headPosition());
          await assertions(readStore.reader(projection.name));
        } finally {
          await projector.stop();
          await readStore.close();
          await eventStore.close();
        }
      };
      return {
        // biome-ignore lint/suspicious/noThenProperty: Given/Then is the API's vocabulary; callers await its result, not the scenario.
        then: run,
        expectRows: (table, rows) =>
          run((reader) => {
            const canonical = (list: readonly unknown[]) => list.map((row) => JSON.stringify(sortKeys(row))).sort();
            assert.deepStrictEqual(canonical(rowsOf(reader, table)), canonical(rows), `rows of ${table}`);
          }),
      };
    },
  };
}

function rowsOf(reader: unknown, table: string): unknown[] {
  const r = reader as { table(name: string): unknown; all?: (sql: string) => unknown[] };
  const t = r.table(table);
  if (t instanceof Map) return [...t.values()];
  if (typeof t === 'string' && typeof r.all === 'function') return r.all(`SELECT * FROM ${t}`);
  throw new ChronicleError('INVALID_ARGUMENT', 'expectRows needs a reader whose table() gives a Map, or a SQL name and all()');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}
