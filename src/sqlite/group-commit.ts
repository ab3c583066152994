// Group commit over one better-sqlite3 connection: many queued writes, one transaction, one fsync.
import { type ChronicleError, isChronicleError, reportAppendGroup } from 'chronicle-es';
import { storeError } from './sqlite-error.js';

// The part of a better-sqlite3 connection the committer uses. Our own type, because GroupCommitStats is public and
// this file's declarations must compile for a consumer without @types/better-sqlite3.
type Statement = { run(): unknown };
type Connection = { prepare(sql: string): Statement; readonly inTransaction: boolean };

/** Counters of committed groups; lets tests and benchmarks see how well writes are batched. */
export type GroupCommitStats = {
  /** Transactions that ran their writes to the end (committed, or rolled back when their only write failed). */
  groups: number;
  /** Writes that ran in those transactions (succeeded or failed alone). */
  operations: number;
  /** Most writes in one transaction. */
  largestGroup: number;
};

export type GroupCommitter = {
  /**
   * Queues `work` to run inside its own savepoint of the next group transaction (no savepoint when it is the
   * group's only write); settles after COMMIT.
   * @throws whatever `work` throws (only that write is rolled back); STORE_ERROR when the group's transaction fails
   */
  enqueue<T>(work: () => T): Promise<T>;
  /** Runs everything queued now, synchronously (used by close). */
  flush(): void;
  stats(): GroupCommitStats;
};

type Pending = { work: () => unknown; resolve: (value: any) => void; reject: (err: unknown) => void };

/**
 * Creates the writer: the first enqueue schedules one flush with setImmediate; everything queued by then
 * shares one BEGIN IMMEDIATE … COMMIT. `onBegin` runs right after BEGIN, before the group's first write;
 * `onCommit` after each successful commit.
 */
export function createGroupCommitter(db: Connection, onCommit: () => void, onBegin: () => void = () => {}): GroupCommitter {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT chronicle_write');
  const release = db.prepare('RELEASE chronicle_write');
  const rollbackTo = db.prepare('ROLLBACK TO chronicle_write');

  let queue: Pending[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const stats: GroupCommitStats = { groups: 0, operations: 0, largestGroup: 0 };

  function failAll(group: Pending[], err: ChronicleError): void {
    if (db.inTransaction) {
      try {
        rollback.run();
      } catch {
        // The transaction is already gone; the callers still need their rejection.
      }
    }
    for (const p of group) p.reject(err);
  }

  function run(statement: Statement, sql: string): void {
    try {
      statement.run();
    } catch (err) {
      throw storeError(err, sql);
    }
  }

  function flush(): void {
    if (scheduled !== undefined) {
      clearImmediate(scheduled);
      scheduled = undefined;
    }
    const group = queue;
    if (group.length === 0) return;
    queue = [];
    try {
      run(begin, 'BEGIN IMMEDIATE');
    } catch (err) {
      failAll(group, err as ChronicleError);
      return;
    }
    onBegin();
    // A lone write needs no savepoint: if it fails, rolling back the whole transaction undoes exactly that write.
    const alone = group.length === 1;
    let rolledBack = false;
    const values: unknown[] = new Array(group.length);
    const errors: unknown[] = new Array(group.length);
    for (let i = 0; i < group.length; i++) {
      try {
        if (!alone) run(savepoint, 'SAVEPOINT chronicle_write');
        values[i] = group[i].work();
        if (!alone) run(release, 'RELEASE chronicle_write');
      } catch (err) {
        // Some failures (disk full, I/O) make SQLite roll back the whole transaction: nothing of the group survived.
        if (!db.inTransaction) {
          failAll(group, storeError(err, 'group transaction'));
          return;
        }
        try {
          if (alone) {
            run(rollback, 'ROLLBACK');
            rolledBack = true;
          } else {
            run(rollbackTo, 'ROLLBACK TO chronicle_write');
            run(release, 'RELEASE chronicle_write');
          }
        } catch (undoErr) {
          failAll(group, undoErr as ChronicleError);
          return;
        }
        errors[i] = isChronicleError(err) ? err : storeError(err, 'write');
      }
    }
    if (!rolledBack) {
      try {
        run(commit, 'COMMIT');
      } catch (err) {
        failAll(group, err as ChronicleError);
        return;
      }
    }
    stats.groups++;
    stats.operations += group.length;
    if (group.length > stats.largestGroup) stats.largestGroup = group.length;
    reportAppendGroup('sqlite', group.length);
    if (!rolledBack) onCommit();
    for (let i = 0; i < group.length; i++) {
      if (errors[i] === undefined) group[i].resolve(values[i]);
      else group[i].reject(errors[i]);
    }
  }

  return {
    enqueue<T>(work: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve, reject });
        scheduled ??= setImmediate(flush);
      });
    },
    flush,
    stats: () => ({ ...stats }),
  };
}
