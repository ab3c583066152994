import type Database from 'better-sqlite3';
import { ChronicleError, isChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { createGroupCommitter } from './group-commit.js';

// A stand-in connection that records the transaction statements and can be told to fail one of them.
function fakeDb(failOn?: string) {
  const log: string[] = [];
  let inTransaction = false;
  const db = {
    get inTransaction() {
      return inTransaction;
    },
    prepare(sql: string) {
      return {
        run() {
          if (sql === failOn) throw Object.assign(new Error(`${sql} failed`), { code: 'SQLITE_IOERR' });
          log.push(sql);
          if (sql === 'BEGIN IMMEDIATE') inTransaction = true;
          if (sql === 'COMMIT' || sql === 'ROLLBACK') inTransaction = false;
        },
      };
    },
  };
  return { db: db as unknown as Database.Database, log, abort: () => (inTransaction = false) };
}

describe('group commit', () => {
  it('runs everything queued in one tick as one transaction, each write in its own savepoint', async () => {
    const { db, log } = fakeDb();
    let commits = 0;
    const writer = createGroupCommitter(db, () => commits++);
    const results = await Promise.all([1, 2, 3].map((n) => writer.enqueue(() => n * 10)));
    expect(results).toEqual([10, 20, 30]);
    expect(log.filter((s) => s === 'BEGIN IMMEDIATE' || s === 'COMMIT')).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
    expect(log.filter((s) => s.startsWith('SAVEPOINT'))).toHaveLength(3);
    expect(commits).toBe(1);
    expect(writer.stats()).toEqual({ groups: 1, operations: 3, largestGroup: 3 });
  });

  it('rolls back only the failing write to its savepoint and rejects only its caller', async () => {
    const { db, log } = fakeDb();
    const writer = createGroupCommitter(db, () => {});
    const conflict = new ChronicleError('CONCURRENCY_CONFLICT', 'no');
    const settled = await Promise.allSettled([
      writer.enqueue(() => 'a'),
      writer.enqueue(() => {
        throw conflict;
      }),
      writer.enqueue(() => 'c'),
    ]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason))).toEqual(['a', conflict, 'c']);
    expect(log).toContain('ROLLBACK TO chronicle_write');
    expect(log.at(-1)).toBe('COMMIT');
  });

  it('runs a lone write without a savepoint and undoes it with ROLLBACK when it fails', async () => {
    const { db, log } = fakeDb();
    let commits = 0;
    let begins = 0;
    const writer = createGroupCommitter(
      db,
      () => commits++,
      () => begins++,
    );
    expect(await writer.enqueue(() => 'ok')).toBe('ok');
    expect(log).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
    const conflict = new ChronicleError('CONCURRENCY_CONFLICT', 'no');
    const err = await writer
      .enqueue(() => {
        throw conflict;
      })
      .catch((e: unknown) => e);
    expect(err).toBe(conflict);
    expect(log.slice(2)).toEqual(['BEGIN IMMEDIATE', 'ROLLBACK']);
    expect({ begins, commits }).toEqual({ begins: 2, commits: 1 });
    expect(writer.stats()).toEqual({ groups: 2, operations: 2, largestGroup: 1 });
  });

  it('wraps a non-Chronicle error thrown by a write as STORE_ERROR', async () => {
    const { db } = fakeDb();
    const writer = createGroupCommitter(db, () => {});
    const err = await writer
      .enqueue(() => {
        throw new TypeError('boom');
      })
      .catch((e: unknown) => e);
    expect(isChronicleError(err, 'STORE_ERROR')).toBe(true);
  });

  it('rejects every caller of the group with STORE_ERROR when COMMIT fails, and does not notify', async () => {
    const { db, log } = fakeDb('COMMIT');
    let commits = 0;
    const writer = createGroupCommitter(db, () => commits++);
    const settled = await Promise.allSettled([writer.enqueue(() => 1), writer.enqueue(() => 2)]);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      const reason = (s as PromiseRejectedResult).reason;
      expect(isChronicleError(reason, 'STORE_ERROR')).toBe(true);
      expect(reason.details.sql).toBe('COMMIT');
    }
    expect(log.at(-1)).toBe('ROLLBACK');
    expect(commits).toBe(0);
  });

  it('fails the whole group when SQLite has already rolled the transaction back', async () => {
    const fake = fakeDb();
    const writer = createGroupCommitter(fake.db, () => {});
    const settled = await Promise.allSettled([
      writer.enqueue(() => 'written, then lost'),
      writer.enqueue(() => {
        fake.abort();
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      }),
      writer.enqueue(() => 'never run'),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(settled.every((s) => isChronicleError((s as PromiseRejectedResult).reason, 'STORE_ERROR'))).toBe(true);
  });

  it('forms the next group from writes queued while a group is settling', async () => {
    const { db } = fakeDb();
    const writer = createGroupCommitter(db, () => {});
    const first = writer.enqueue(() => 1);
    await first;
    await Promise.all([writer.enqueue(() => 2), writer.enqueue(() => 3)]);
    expect(writer.stats()).toEqual({ groups: 2, operations: 3, largestGroup: 2 });
  });

  it('flush() drains the queue synchronously', () => {
    const { db, log } = fakeDb();
    const writer = createGroupCommitter(db, () => {});
    void writer.enqueue(() => 1);
    writer.flush();
    expect(log.at(-1)).toBe('COMMIT');
    writer.flush();
    expect(writer.stats().groups).toBe(1);
  });
});
