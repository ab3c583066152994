// The snapshot store's in-memory twin: states kept as JSON text, as a database keeps them, so a state that would not
// survive a real store does not survive here either.
import { ChronicleError } from '../errors.js';
import { assertSnapshotKey, encodeSnapshot, type Snapshot, type SnapshotStore } from './snapshot-store.js';

type Row = Omit<Snapshot, 'state'> & { stateJson: string; takenAt: string };

/**
 * Snapshots in memory; `isClosed` makes its calls fail with CLOSED once the store owning it is closed. `removeStream`
 * drops every snapshot of a stream (the in-memory event store's tombstone).
 */
export function createInMemorySnapshotStore(
  isClosed: () => boolean = () => false,
): SnapshotStore & { removeStream(streamId: string): void } {
  const rows = new Map<string, Row>();
  const keyOf = (streamId: string, name: string, version: number) => JSON.stringify([streamId, name, version]);
  const assertOpen = () => {
    if (isClosed()) throw new ChronicleError('CLOSED', 'event store is closed');
  };
  return {
    async loadSnapshot(streamId, name, version) {
      assertOpen();
      assertSnapshotKey(streamId, name, version);
      const row = rows.get(keyOf(streamId, name, version));
      if (row === undefined) return undefined;
      const { stateJson, ...rest } = row;
      return { ...rest, state: JSON.parse(stateJson) };
    },
    async saveSnapshot(given) {
      assertOpen();
      const { snapshot, stateJson } = encodeSnapshot(given);
      const key = keyOf(snapshot.streamId, snapshot.name, snapshot.version);
      const { streamId, name, version, streamVersion, position } = snapshot;
      rows.set(key, { streamId, name, version, streamVersion, position, stateJson, takenAt: new Date().toISOString() });
    },
    removeStream(streamId) {
      for (const [key, row] of rows) if (row.streamId === streamId) rows.delete(key);
    },
  };
}
