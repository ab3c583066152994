// minPosition waits for a process that runs no projector (the `read` role): answered from the checkpoints the read
// store keeps, which projector workers elsewhere move. One poll of the store serves every wait pending at the time.
import { ChronicleError, type ProjectionRecord, type WaitForPositionOptions } from 'chronicle-es';

export type CheckpointWaitsOptions = {
  readStore: { list(): Promise<ProjectionRecord[]> };
  /** The projections a wait may name; a wait naming none waits for all of them. */
  projections: readonly string[];
  /** How often to read the checkpoints while a wait is pending. Default 50. */
  pollIntervalMs?: number;
};

export type CheckpointWaits = {
  /**
   * Resolves once every named projection's stored checkpoint is ≥ `position`.
   * @throws TIMEOUT after `timeoutMs` (default 5000); PROJECTION_FAILED when a named projection is failed short of
   * it; CLOSED after close; NOT_FOUND unknown projection; INVALID_ARGUMENT bad position or timeout
   */
  waitForPosition(position: number, options?: WaitForPositionOptions): Promise<void>;
  /** Rejects every pending wait with CLOSED. */
  close(): Promise<void>;
};

type Waiter = {
  position: number;
  names: readonly string[];
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
};

/** @throws INVALID_ARGUMENT bad options */
export function createCheckpointWaits(options: CheckpointWaitsOptions): CheckpointWaits {
  const { readStore, projections } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 50;
  if (!Number.isSafeInteger(pollIntervalMs) || pollIntervalMs < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', 'pollIntervalMs must be a positive integer');
  }
  const known = new Set(projections);
  const waiters = new Set<Waiter>();
  let polling = false;
  let closed = false;

  const settle = (waiter: Waiter, err?: Error) => {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
    if (err) waiter.reject(err);
    else waiter.resolve();
  };

  // Runs while any wait is pending; a failed read of the store is retried at the next tick (the waits time out).
  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      while (waiters.size > 0 && !closed) {
        const records = await readStore.list().catch(() => undefined);
        if (records) check(new Map(records.map((r) => [r.name, r])));
        if (waiters.size === 0) break;
        await new Promise((resolve) => setTimeout(resolve, pollIntervalMs).unref());
      }
    } finally {
      polling = false;
    }
  }

  function check(records: Map<string, ProjectionRecord>): void {
    for (const waiter of [...waiters]) {
      let reached = true;
      for (const name of waiter.names) {
        const record = records.get(name);
        const position = record && record.generation > 0 ? record.position : 0;
        if (position >= waiter.position) continue;
        reached = false;
        if (record?.failure) {
          settle(
            waiter,
            new ChronicleError('PROJECTION_FAILED', `projection ${name} is failed at ${position}, short of ${waiter.position}`, {
              details: { projection: name, position, wanted: waiter.position },
            }),
          );
          break;
        }
      }
      if (reached && waiters.has(waiter)) settle(waiter);
    }
  }

  return {
    waitForPosition(position, wait = {}) {
      const timeoutMs = wait.timeoutMs ?? 5000;
      if (!Number.isSafeInteger(position) || position < 0) {
        return Promise.reject(new ChronicleError('INVALID_ARGUMENT', 'position must be a non-negative integer'));
      }
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) {
        return Promise.reject(new ChronicleError('INVALID_ARGUMENT', 'timeoutMs must be a non-negative integer'));
      }
      const names = wait.projections ?? projections;
      const unknown = names.find((name) => !known.has(name));
      if (unknown !== undefined) return Promise.reject(new ChronicleError('NOT_FOUND', `unknown projection ${unknown}`));
      if (closed) return Promise.reject(new ChronicleError('CLOSED', 'checkpoint waits are closed'));
      if (position === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          position,
          names,
          resolve,
          reject,
          timer: setTimeout(() => {
            settle(
              waiter,
              new ChronicleError('TIMEOUT', `position ${position} not reached in ${timeoutMs} ms`, {
                details: { position, timeoutMs },
              }),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
        void poll();
      });
    },
    async close() {
      closed = true;
      for (const waiter of [...waiters]) settle(waiter, new ChronicleError('CLOSED', 'checkpoint waits are closed'));
    },
  };
}
