// Group commit for the read store's applies: a projector's projections reach the same page at nearly the same
// moment and each applies its batch; those that arrive together share one BEGIN IMMEDIATE … COMMIT, each inside
// its own savepoint, so a checkpoint conflict or a handler's error rolls back only that batch and its checkpoint.
import type { ApplyWork } from 'chronicle';
import { storeError } from './sqlite-error.js';

/** One `apply` call, as the port takes it. */
export type ApplyRequest<Tx> = {
  name: string;
  generation: number;
  work: ApplyWork<Tx> | undefined;
  checkpoint: number;
  after: number | undefined;
};

export type ApplyGroupsDeps<Tx> = {
  /** Runs one statement; throws STORE_ERROR. */
  run(sql: string): unknown;
  /** The checkpoint's compare-and-set; throws CONCURRENCY_CONFLICT. */
  setCheckpoint(name: string, generation: number, checkpoint: number, after: number | undefined): void;
  txFor(name: string, generation: number): Tx;
  inTransaction(): boolean;
  stats: { transactions: number; applies: number; largestGroup: number };
  /** The transaction holding the connection across awaits, if any: a group waits for it to settle. */
  busy(): Promise<void> | undefined;
  /** Marks the connection held while async work awaits; returns the release. */
  hold(): () => void;
  closed(): boolean;
  closedError(): Error;
};

export type ApplyGroups<Tx> = {
  /** Queues an apply for the next group; settles after its group commits (or it alone is rolled back). */
  enqueue(request: ApplyRequest<Tx>): Promise<void>;
  /** Runs every queued apply now (close uses it); resolves once all have settled. */
  drain(): Promise<void>;
};

type Pending<Tx> = ApplyRequest<Tx> & { resolve: () => void; reject: (err: unknown) => void };

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';

/**
 * Everything enqueued before the next turn of the event loop (setImmediate) runs in one transaction, in arrival
 * order, each apply in its own savepoint (none when it is alone: rolling back the transaction undoes exactly it).
 *
 * Synchronous work runs the whole group without yielding, so nothing (no reader of this store) sees a group half
 * applied. Work is only known to be async once it returns a promise; a savepoint cannot stay open across its awaits
 * while other applies run in the same transaction, so that apply ends its group: the applies before it (synchronous,
 * already released) wait with it, the ones after it go to the next group, and the connection is held (as any async
 * transaction holds it) until its promise settles — it is then released or rolled back alone, and the group commits.
 * An async apply that arrives alone (the usual case: a projection with async handlers) runs exactly as it did
 * before grouping, in a transaction of its own.
 */
export function createApplyGroups<Tx>(deps: ApplyGroupsDeps<Tx>): ApplyGroups<Tx> {
  const { run, stats } = deps;
  let queue: Pending<Tx>[] = [];
  let scheduled: NodeJS.Immediate | undefined;

  function rejectAll(group: readonly Pending<Tx>[], err: unknown): void {
    for (const p of group) p.reject(err);
  }

  // Rolls back whatever is left of the transaction; the callers get `err` (their own error where they have one).
  function abandon(group: readonly Pending<Tx>[], errors: Map<number, unknown>, err: unknown): void {
    if (deps.inTransaction()) {
      try {
        run('ROLLBACK');
      } catch {
        // The transaction is already gone; the callers still need their rejection.
      }
    }
    for (let i = 0; i < group.length; i++) group[i].reject(errors.has(i) ? errors.get(i) : err);
  }

  async function commitGroup(group: Pending<Tx>[]): Promise<void> {
    try {
      // IMMEDIATE takes the write lock up front, so another process's writer makes us wait (busy timeout), never deadlock.
      run('BEGIN IMMEDIATE');
    } catch (err) {
      return rejectAll(group, err);
    }
    stats.transactions++;
    const alone = group.length === 1;
    // What each failed apply threw, by its place in the group.
    const errors = new Map<number, unknown>();
    let rolledBack = false;
    let release: (() => void) | undefined;
    try {
      for (let i = 0; i < group.length; i++) {
        const p = group[i];
        try {
          if (!alone) run('SAVEPOINT chronicle_apply');
          // Checked first, so the loser of a compare-and-set runs no work.
          deps.setCheckpoint(p.name, p.generation, p.checkpoint, p.after);
          const result = p.work?.(deps.txFor(p.name, p.generation));
          if (isThenable(result)) {
            // The rest of the group goes to the next transaction: nothing may run inside this one while it awaits.
            if (i + 1 < group.length) {
              queue = group.splice(i + 1).concat(queue);
            }
            release = deps.hold();
            await result;
          }
          if (!alone) run('RELEASE chronicle_apply');
        } catch (err) {
          // Some failures (disk full, I/O) make SQLite roll back the whole transaction: the batches released before
          // this one went with it. Those after it have not run; they go to the next transaction.
          if (!deps.inTransaction()) {
            queue = group.splice(i + 1).concat(queue);
            errors.set(i, err);
            return abandon(group, errors, storeError(err, 'apply group transaction'));
          }
          if (alone) {
            try {
              run('ROLLBACK');
            } catch (undoErr) {
              errors.set(i, err);
              return abandon(group, errors, undoErr);
            }
            rolledBack = true;
          } else {
            try {
              run('ROLLBACK TO chronicle_apply');
              run('RELEASE chronicle_apply');
            } catch (undoErr) {
              errors.set(i, err);
              return abandon(group, errors, undoErr);
            }
          }
          // Rethrown unchanged, as from a transaction of its own.
          errors.set(i, err);
        }
      }
      if (!rolledBack) {
        try {
          run('COMMIT');
        } catch (err) {
          return abandon(group, errors, err);
        }
      }
    } finally {
      release?.();
    }
    stats.applies += group.length;
    if (group.length > stats.largestGroup) stats.largestGroup = group.length;
    for (let i = 0; i < group.length; i++) {
      if (errors.has(i)) group[i].reject(errors.get(i));
      else group[i].resolve();
    }
  }

  async function drain(): Promise<void> {
    if (scheduled !== undefined) {
      clearImmediate(scheduled);
      scheduled = undefined;
    }
    while (queue.length > 0) {
      // Checked right before taking the group, with no await in between: another drain or an exclusive write may
      // have begun a transaction that holds the connection.
      const held = deps.busy();
      if (held) {
        await held;
        continue;
      }
      const group = queue;
      queue = [];
      if (deps.closed()) {
        rejectAll(group, deps.closedError());
        continue;
      }
      await commitGroup(group);
    }
  }

  return {
    enqueue(request) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ ...request, resolve, reject });
        scheduled ??= setImmediate(() => {
          scheduled = undefined;
          void drain();
        });
      });
    },
    drain,
  };
}
