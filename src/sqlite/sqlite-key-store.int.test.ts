// The SQLite key store: the shipped conformance suite on a real file, and the shredding grep: the personal value
// never reaches the event store's file or its -wal, and after forget the key's bytes are gone from both.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defineEvent, FORGOTTEN, personal, withCryptoShredding } from 'chronicle-es';
import { describeSubjectKeyStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createSqliteEventStore, createSqliteKeyStore } from './index.js';

let dir: string;
let files = 0;
const freshPath = () => join(dir, `keys-${++files}.db`);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chronicle-sqlite-keys-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let sharedPath: string;
describeSubjectKeyStoreConformance(
  'sqlite',
  {
    create: () => {
      sharedPath ??= freshPath();
      return createSqliteKeyStore({ path: sharedPath });
    },
    shared: true,
  },
  { describe, it, beforeAll, afterAll },
);

/** Occurrences of `needle` in the database file and its -wal (what a disk image would show). */
function occurrences(path: string, needle: Buffer): { db: number; wal: number } {
  const count = (file: string) => {
    if (!existsSync(file)) return 0;
    const bytes = readFileSync(file);
    let n = 0;
    for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) n++;
    return n;
  };
  return { db: count(path), wal: count(`${path}-wal`) };
}

const Registered = defineEvent(
  'CustomerRegistered',
  z.object({ customerId: z.string(), name: personal(z.string()), email: personal(z.string()) }),
  { subject: 'customerId' },
);

describe('crypto-shredding on a SQLite file', () => {
  it('never writes the personal value to the file or its WAL, and forget removes the key from both', async () => {
    const email = 'grace.hopper.shred@example.com';
    const registered = (customerId: string) => ({
      type: 'CustomerRegistered',
      data: { customerId, name: 'Grace Hopper', email },
    });

    // The same events without shredding, as the control: the value is plainly there.
    const plainPath = freshPath();
    const plain = createSqliteEventStore({ path: plainPath });
    await plain.append('customer-c1', [registered('c1')]);
    const plainCount = occurrences(plainPath, Buffer.from(email));
    await plain.close();
    expect(plainCount.db + plainCount.wal).toBeGreaterThan(0);

    const path = freshPath();
    const raw = createSqliteEventStore({ path });
    const keys = createSqliteKeyStore({ path: raw.path }); // the keys in the event store's own file
    const store = withCryptoShredding(raw, { events: [Registered], keys });
    await store.append('customer-c1', [registered('c1')]);
    await store.append('customer-c2', [registered('c2')]);
    const key = (await keys.findKeys(['c1'])).get('c1');
    if (key === undefined) throw new Error('no key for c1');
    const keyBytes = Buffer.from(key.key);
    // Move everything into the main file too (as SQLite's auto-checkpoint would), so forget must erase it there, not
    // only in the WAL: that is secure_delete's part.
    const other = new Database(path);
    other.pragma('wal_checkpoint(PASSIVE)');
    other.close();
    const before = { value: occurrences(path, Buffer.from(email)), key: occurrences(path, keyBytes) };
    expect(before.value).toEqual({ db: 0, wal: 0 });
    expect(before.key.db).toBeGreaterThan(0);
    expect((await store.readStream('customer-c1'))[0].data).toMatchObject({ email });

    expect(await store.forget('c1')).toBe(true);
    const after = { value: occurrences(path, Buffer.from(email)), key: occurrences(path, keyBytes) };
    expect(after.value).toEqual({ db: 0, wal: 0 });
    expect(after.key).toEqual({ db: 0, wal: 0 });
    expect((await store.readStream('customer-c1'))[0].data).toMatchObject({ name: FORGOTTEN, email: FORGOTTEN });
    expect((await store.readStream('customer-c2'))[0].data).toMatchObject({ email });
    // The lead's figures: the plain value's occurrences in the file(s) before and after forget, and the key's.
    console.log(
      JSON.stringify({
        shredding: 'sqlite',
        plainStore: plainCount,
        valueBeforeForget: before.value,
        valueAfterForget: after.value,
        keyBeforeForget: before.key,
        keyAfterForget: after.key,
      }),
    );
    await keys.close();
    await raw.close();

    // Keys are durable: a reopened store still reads the subject that was not forgotten.
    const reopened = createSqliteEventStore({ path });
    const reopenedKeys = createSqliteKeyStore({ path });
    const again = withCryptoShredding(reopened, { events: [Registered], keys: reopenedKeys });
    expect((await again.readAll()).map((e) => (e.data as { email: string }).email)).toEqual([FORGOTTEN, email]);
    await reopenedKeys.close();
    await reopened.close();
  });
});
