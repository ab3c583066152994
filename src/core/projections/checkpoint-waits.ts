// Read-your-writes waits for a process that runs no projector (the Shop's `read` role): answered from the read store's
// checkpoints, which the workers holding the projections write with every batch.
import { ChronicleError } from '../errors.js';
import { CheckpointPoll } from './checkpoint-poll.js';
import { assertWaitArguments, PositionWaiters } from './position-waiters.js';
import { projectionFailed, servedFailure } from './projection-failure.js';
import type { ProjectionRecord, ProjectionStore } from './projection-store.js';
import type { WaitForPositionOptions } from './projector.js';

export type CheckpointWaitsOptions = {
  /** Any read store; only its `list()` is used. */
  readStore: Pick<ProjectionStore<unknown, unknown>, 'list'>;
  /** The projections that may be waited on (a wait names some of them, or means all). */
  projections: readonly string[];
  /** How often the checkpoints are read while someone waits. Default 50. */
  pollIntervalMs?: number;
};

export interface CheckpointWaits {
  /**
   * Resolves once every named projection's stored checkpoint is ≥ `position`.
   * @throws TIMEOUT after `timeoutMs` (default 5000); PROJECTION_FAILED when a named projection's stored record shows
   * it failed short of the position; CLOSED after close(); NOT_FOUND unknown projection; INVALID_ARGUMENT bad position
   * or timeout
   */
  waitForPosition(position: number, options?: WaitForPositionOptions): Promise<void>;
  /** Stops polling; pending waits reject with CLOSED. */
  close(): Promise<void>;
}

/** Creates checkpoint waits over a read store. @throws INVALID_ARGUMENT bad options */
export function createCheckpointWaits(options: CheckpointWaitsOptions): CheckpointWaits {
  const { readStore, projections } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 50;
  if (!readStore || !Array.isArray(projections) || projections.some((p) => typeof p !== 'string' || p === '')) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createCheckpointWaits needs a readStore and projection names');
  }
  if (!(pollIntervalMs > 0)) throw new ChronicleError('INVALID_ARGUMENT', 'pollIntervalMs must be positive');
  const known = new Set(projections);
  const records = new Map<string, ProjectionRecord>();
  const waiters = new PositionWaiters((name) => records.get(name)?.position ?? 0);
  let closed = false;
  const poll = new CheckpointPoll(
    readStore,
    pollIntervalMs,
    () => !closed && waiters.waitsFor(() => true),
    (list) => {
      for (const record of list) {
        if (!known.has(record.name)) continue;
        records.set(record.name, record);
        waiters.changed(record.name);
        const failure = servedFailure(record);
        if (failure) waiters.failed(record.name, () => projectionFailed(record.name, record.position, failure));
      }
    },
  );

  return {
    waitForPosition(position, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 5000;
      try {
        assertWaitArguments(position, timeoutMs);
        if (closed) throw new ChronicleError('CLOSED', 'checkpoint waits are closed');
        const names = waitOptions.projections ?? projections;
        for (const name of names) {
          if (!known.has(name)) {
            throw new ChronicleError('NOT_FOUND', `no projection named ${JSON.stringify(name)}`, {
              details: { projection: name },
            });
          }
        }
        const waiting = waiters.wait(names, position, timeoutMs);
        poll.kick();
        return waiting;
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async close() {
      closed = true;
      poll.stop();
      waiters.rejectAll(() => new ChronicleError('CLOSED', 'checkpoint waits are closed'));
    },
  };
}
