// The read-model change feed of a process that runs no projector (the `read` role): the checkpoints other processes
// commit, read every poll interval while anyone listens, each move reported once.
import type { ProjectionChange, ProjectionRecord, Projector } from 'chronicle-es';

export type CheckpointChanges = {
  /** Calls `listener` with each projection's new checkpoint when a poll sees it move; returns the unsubscribe. */
  onChange(listener: (change: ProjectionChange) => void): () => void;
  /** Every projection's stored checkpoint now. */
  positions(): Promise<ProjectionChange[]>;
  /** Stops polling. */
  close(): void;
};

/** Watches the checkpoints of `projections` in `readStore`; polls only while someone listens. */
export function watchCheckpoints(options: {
  readStore: { list(): Promise<ProjectionRecord[]> };
  projections: readonly string[];
  /** Default 200. */
  pollIntervalMs?: number;
}): CheckpointChanges {
  const { readStore } = options;
  const names = new Set(options.projections);
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const listeners = new Set<(change: ProjectionChange) => void>();
  const seen = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const read = async (): Promise<ProjectionChange[]> =>
    (await readStore.list())
      .filter((r) => names.has(r.name) && r.generation > 0)
      .map((r) => ({ projection: r.name, position: r.position }));

  async function poll(): Promise<void> {
    timer = undefined;
    // A store that cannot answer now is asked again at the next tick; the clients only hear later.
    const changes = await read().catch(() => []);
    for (const change of changes) {
      // Only forward: a slower poll answering after a newer one must not make a position count as new twice. The
      // first sighting is reported too, since a client may have connected after that projection's last move.
      const before = seen.get(change.projection);
      if (before !== undefined && change.position <= before) continue;
      seen.set(change.projection, change.position);
      for (const listener of listeners) listener(change);
    }
    schedule();
  }
  const schedule = () => {
    if (!closed && listeners.size > 0 && timer === undefined) timer = setTimeout(poll, pollIntervalMs).unref();
  };

  return {
    onChange(listener) {
      listeners.add(listener);
      schedule();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer !== undefined) {
          clearTimeout(timer);
          timer = undefined;
        }
      };
    },
    positions: read,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** The moves of a projector running in this process, in the shape watchCheckpoints gives for one running elsewhere. */
export function projectorChanges(projector: Projector): Pick<CheckpointChanges, 'onChange' | 'positions'> {
  return {
    onChange: (listener) => projector.onChange(listener),
    positions: async () => (await projector.status()).map((s) => ({ projection: s.name, position: s.position })),
  };
}
