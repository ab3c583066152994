// Crypto-shredding's cost on SQLite: appending and reading customer events whose name, email and address are
// personal, through withCryptoShredding (a key per customer, in the same file), beside the plain store and bare
// better-sqlite3 doing the same inserts and reads in the same run (a baseline, not library code, as in
// raw-sqlite-baseline.ts). Then the shredding grep on the bench's own file: occurrences of one customer's email in the
// database file and its -wal, in the plain store and in the shredded one before and after forget.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defineEvent, type EventStore, personal, withCryptoShredding } from 'chronicle-es';
import { createSqliteEventStore, createSqliteKeyStore } from 'chronicle-es/sqlite';
import { z } from 'zod';
import { type BenchResult, printTable, reportThroughput, scaled } from './harness.js';

const CUSTOMERS = scaled(20_000);
const BATCH = 100;
const Registered = defineEvent(
  'CustomerRegistered',
  z.object({
    customerId: z.string(),
    name: personal(z.string()),
    email: personal(z.string()),
    address: personal(z.object({ street: z.string(), city: z.string(), postalCode: z.string(), country: z.string() })),
  }),
  { subject: 'customerId' },
);
const data = (i: number) => ({
  customerId: `c${i}`,
  name: `Customer Number ${i}`,
  email: `customer.${i}@example.com`,
  address: { street: `${i} Main Street`, city: 'Springfield', postalCode: `${10000 + (i % 90000)}`, country: 'US' },
});

const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-shredding-'));
// Throughput lines of this bench (full sync), against a baseline when given.
const line = (name: string, events: number, seconds: number, note: string, baseline?: BenchResult) =>
  reportThroughput(name, events, seconds, { sync: 'full', note, baseline });
const timed = async (run: () => Promise<unknown> | unknown) => {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
};

async function appendAll(store: EventStore) {
  for (let i = 0; i < CUSTOMERS; i += BATCH) {
    await store.appendMany(
      Array.from({ length: Math.min(BATCH, CUSTOMERS - i) }, (_, k) => ({
        streamId: `customer-c${i + k}`,
        events: [{ type: 'CustomerRegistered', data: data(i + k) }],
      })),
    );
  }
}

function occurrences(path: string, value: string) {
  const count = (file: string) => {
    if (!existsSync(file)) return 0;
    const bytes = readFileSync(file);
    let n = 0;
    for (let at = bytes.indexOf(value); at !== -1; at = bytes.indexOf(value, at + 1)) n++;
    return n;
  };
  return { db: count(path), wal: count(`${path}-wal`) };
}

try {
  // Bare driver: one transaction per batch of inserts, then one SELECT of everything parsed back.
  const barePath = join(dir, 'bare.db');
  const bare = new Database(barePath);
  bare.pragma('journal_mode = WAL');
  bare.pragma('synchronous = FULL');
  bare.exec('CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT, type TEXT, data TEXT)');
  const insert = bare.prepare('INSERT INTO events (stream_id, type, data) VALUES (?, ?, ?)');
  const batch = bare.transaction((from: number) => {
    for (let k = from; k < Math.min(from + BATCH, CUSTOMERS); k++)
      insert.run(`customer-c${k}`, 'CustomerRegistered', JSON.stringify(data(k)));
  });
  const bareAppend = line(
    'shredding: bare append',
    CUSTOMERS,
    await timed(() => {
      for (let i = 0; i < CUSTOMERS; i += BATCH) batch(i);
    }),
    `better-sqlite3, ${BATCH} inserts per transaction`,
  );
  const select = bare.prepare('SELECT data FROM events ORDER BY position');
  const bareRead = line(
    'shredding: bare read',
    CUSTOMERS,
    await timed(() => select.all().map((r) => JSON.parse((r as { data: string }).data))),
    'better-sqlite3, SELECT all + JSON.parse',
  );
  bare.close();

  const plainPath = join(dir, 'plain.db');
  const plain = createSqliteEventStore({ path: plainPath });
  line('shredding: plain append', CUSTOMERS, await timed(() => appendAll(plain)), `appendMany of ${BATCH} streams`, bareAppend);
  line('shredding: plain readAll', CUSTOMERS, await timed(() => plain.readAll({ limit: CUSTOMERS })), 'no shredding', bareRead);
  await plain.close();

  const path = join(dir, 'shredded.db');
  const raw = createSqliteEventStore({ path });
  const keys = createSqliteKeyStore({ path });
  const store = withCryptoShredding(raw, { events: [Registered], keys, cache: { maxKeys: CUSTOMERS } });
  line(
    'shredding: shredded append',
    CUSTOMERS,
    await timed(() => appendAll(store)),
    'a new key per customer, 6 fields encrypted',
    bareAppend,
  );
  line(
    'shredding: shredded readAll (keys cached)',
    CUSTOMERS,
    await timed(() => store.readAll({ limit: CUSTOMERS })),
    'decrypting 6 fields per event',
    bareRead,
  );
  const cold = withCryptoShredding(raw, { events: [Registered], keys });
  line(
    'shredding: shredded readAll (cold cache)',
    CUSTOMERS,
    await timed(() => cold.readAll({ limit: CUSTOMERS })),
    'keys read from the file',
    bareRead,
  );

  const email = data(7).email;
  const grep = {
    shredding: 'bench-sqlite-grep',
    value: email,
    plainStore: occurrences(plainPath, email),
    beforeForget: occurrences(path, email),
  };
  await store.forget('c7');
  process.stdout.write(`${JSON.stringify({ ...grep, afterForget: occurrences(path, email) })}\n`);
  await keys.close();
  await raw.close();
  printTable();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
