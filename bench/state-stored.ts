// State-stored commands (issue 13): a deposit on one of 1,000 account rows, 64 in flight — load the row, decide,
// UPDATE the row, append the event in the same transaction — on SQLite and PostgreSQL, each beside the bare driver
// doing the same SELECT + UPDATE + INSERT per command in the same run, measured in alternating rounds (`--rounds N`,
// default 3). The SQLite baseline batches the commands in flight into one transaction per turn of the event loop (a
// hand-written group commit; one transaction per command would be fsync-bound and flatter the framework); the
// PostgreSQL one runs each command as its own transaction on a pool of the same size as the store's.
// (Beside raw-sqlite-baseline.ts and pg-baseline.ts, a file outside the adapters importing the drivers: a baseline.)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  andThen,
  createStateStoredHandler,
  type Decider,
  type EventStore,
  type StateStoredStore,
  type WriteTx,
} from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import pg from 'pg';
import { alternate, type MeasureOptions, printTable, quick, scaled, warmUp } from './harness.js';
import { openAdmin } from './pg-server.js';

const ACCOUNTS = 1_000;
const IN_FLIGHT = 64;
const POOL = 16;
const roundsIndex = process.argv.indexOf('--rounds');
const ROUNDS = roundsIndex === -1 ? (quick ? 2 : 3) : Number(process.argv[roundsIndex + 1]);

type Deposit = { type: 'Deposit'; data: { accountId: string; amount: number } };
type Deposited = { type: 'Deposited'; data: { amount: number; balance: number } };
type Account = { balance: number };
const account: Decider<Deposit, Deposited, Account> = {
  initialState: { balance: 0 },
  decide: (c, s) => [{ type: 'Deposited', data: { amount: c.data.amount, balance: s.balance + c.data.amount } }],
  evolve: (s, e) => ({ balance: s.balance + e.data.amount }),
};
const idOf = (i: number) => `a${(i * 7919) % ACCOUNTS}`;
const deposit = (i: number): Deposit => ({ type: 'Deposit', data: { accountId: idOf(i), amount: (i % 9) + 1 } });
const eventData = (amount: number, balance: number) => JSON.stringify({ amount, balance });
const metadata = () => JSON.stringify({ schemaVersion: 1, timestamp: new Date().toISOString(), command: 'Deposit' });

type Row = { balance: number; version: number };
type Store = EventStore & StateStoredStore<WriteTx>;

function handlerOn(store: Store, table: string) {
  return createStateStoredHandler({
    store,
    decider: account,
    maxRetries: 50,
    streamId: (c) => `account-${c.data.accountId}`,
    load: (tx, c) =>
      andThen(tx.get<Row>(`SELECT balance, version FROM ${table} WHERE id = ?`, [c.data.accountId]), (row) =>
        row === undefined ? undefined : { state: { balance: Number(row.balance) }, version: Number(row.version) },
      ),
    save: (tx, change) =>
      change.before === undefined
        ? tx.run(`INSERT INTO ${table} (id, balance, version) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, [
            change.command.data.accountId,
            change.after.balance,
            change.version,
          ])
        : tx.run(`UPDATE ${table} SET balance = ?, version = ? WHERE id = ? AND version = ?`, [
            change.after.balance,
            change.version,
            change.command.data.accountId,
            change.expectedVersion,
          ]),
  });
}

const options = (ops: number, sync: string, note: string): MeasureOptions => ({
  ops,
  concurrency: IN_FLIGHT,
  eventsPerOp: 1,
  sync,
  unit: 'ops/s',
  targetRatio: 0.7,
  note,
});

async function sqlite(dir: string) {
  const ops = scaled(20_000);
  const store = createSqliteEventStore({ path: join(dir, 'chronicle.db') });
  await store.transact((tx) =>
    andThen(tx.run('CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)'), () => []),
  );
  const handle = handlerOn(store, 'accounts');

  const db = new Database(join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL);
    CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
      version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, version))`);
  const select = db.prepare('SELECT balance, version FROM accounts WHERE id = ?');
  const insertRow = db.prepare('INSERT INTO accounts (id, balance, version) VALUES (?, ?, ?)');
  const update = db.prepare('UPDATE accounts SET balance = ?, version = ? WHERE id = ? AND version = ?');
  const insertEvent = db.prepare('INSERT INTO events (id, stream_id, version, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
  const one = (c: Deposit) => {
    const row = select.get(c.data.accountId) as Row | undefined;
    const version = row?.version ?? 0;
    const balance = (row?.balance ?? 0) + c.data.amount;
    if (row === undefined) insertRow.run(c.data.accountId, balance, 1);
    else update.run(balance, version + 1, c.data.accountId, version);
    insertEvent.run(
      randomUUID(),
      `account-${c.data.accountId}`,
      version + 1,
      'Deposited',
      eventData(c.data.amount, balance),
      metadata(),
    );
  };
  // The callers of one turn share a transaction, as the store's group commit does.
  let queue: Array<{ c: Deposit; done: () => void }> = [];
  const flushAll = db.transaction((group: typeof queue) => {
    for (const q of group) one(q.c);
  });
  const bare = (c: Deposit) =>
    new Promise<void>((done) => {
      if (queue.length === 0) {
        setImmediate(() => {
          const group = queue;
          queue = [];
          flushAll(group);
          for (const q of group) q.done();
        });
      }
      queue.push({ c, done });
    });

  await warmUp(IN_FLIGHT, (k) => bare(deposit(k)));
  await warmUp(IN_FLIGHT, (k) => handle(deposit(k), {}));
  await alternate(
    ROUNDS,
    {
      name: 'raw-better-sqlite3:state-stored-deposit',
      options: options(
        ops,
        'full',
        'baseline, bare driver: SELECT + UPDATE + INSERT per command, the commands of a turn in one transaction',
      ),
      op: (i, round) => bare(deposit(i + round * ops)),
    },
    {
      name: 'sqlite:state-stored-deposit',
      options: options(ops, 'full', `createStateStoredHandler, ${IN_FLIGHT} in flight over ${ACCOUNTS} rows`),
      op: (i, round) => handle(deposit(i + round * ops), {}),
    },
  );
  const stats = store.stats();
  process.stdout.write(`${JSON.stringify({ name: 'sqlite:state-stored-groups', ...stats })}\n`);
  db.close();
  await store.close();
}

async function postgres() {
  const admin = await openAdmin();
  try {
    const ops = scaled(12_000);
    const storeUrl = admin.url('state-stored');
    const schema = admin.freshSchema('statestored');
    const store = createPostgresEventStore({ connectionString: storeUrl, schema, poolSize: POOL });
    const table = `"${schema}".accounts`;
    await store.transact((tx) =>
      andThen(
        tx.run(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)`),
        () => [],
      ),
    );
    const handle = handlerOn(store, table);

    const bareSchema = admin.freshSchema('statestoredbare');
    await admin.query(`CREATE SCHEMA "${bareSchema}"`);
    await admin.query(
      `CREATE TABLE "${bareSchema}".accounts (id text PRIMARY KEY, balance integer NOT NULL, version integer NOT NULL)`,
    );
    await admin.query(`CREATE TABLE "${bareSchema}".events (
      position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL,
      id uuid NOT NULL UNIQUE, type text NOT NULL, data json NOT NULL, metadata json NOT NULL, UNIQUE (stream_id, version))`);
    const bareUrl = admin.url('state-stored-bare');
    const pool = new pg.Pool({ connectionString: bareUrl, max: POOL, options: `-c search_path="${bareSchema}" -c jit=off` });
    pool.on('error', () => {});
    const bare = async (c: Deposit) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<Row>({
          name: 'ss-select',
          text: 'SELECT balance, version FROM accounts WHERE id = $1',
          values: [c.data.accountId],
        });
        const version = rows[0]?.version ?? 0;
        const balance = (rows[0]?.balance ?? 0) + c.data.amount;
        const changed =
          rows[0] === undefined
            ? await client.query({
                name: 'ss-insert-row',
                text: 'INSERT INTO accounts (id, balance, version) VALUES ($1, $2, 1) ON CONFLICT (id) DO NOTHING',
                values: [c.data.accountId, balance],
              })
            : await client.query({
                name: 'ss-update',
                text: 'UPDATE accounts SET balance = $1, version = $2 WHERE id = $3 AND version = $4',
                values: [balance, version + 1, c.data.accountId, version],
              });
        if (changed.rowCount !== 1) throw new Error('bare baseline: lost a race (not retried)');
        await client.query({
          name: 'ss-insert-event',
          text: 'INSERT INTO events (stream_id, version, id, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6)',
          values: [
            `account-${c.data.accountId}`,
            version + 1,
            randomUUID(),
            'Deposited',
            eventData(c.data.amount, balance),
            metadata(),
          ],
        });
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    };
    // Conflicts on one row are retried by the handler; the bare side retries the same way, so both finish every op.
    const bareRetrying = async (c: Deposit) => {
      for (;;) {
        try {
          return await bare(c);
        } catch (err) {
          if (!/lost a race|duplicate key/.test(String((err as Error).message))) throw err;
        }
      }
    };
    await warmUp(IN_FLIGHT, (k) => bareRetrying(deposit(k)));
    await warmUp(IN_FLIGHT, (k) => handle(deposit(k), {}));
    await alternate(
      ROUNDS,
      {
        name: 'raw-pg:state-stored-deposit',
        options: {
          ...options(ops, 'server', `baseline, bare driver: BEGIN, SELECT, UPDATE, INSERT, COMMIT per command, pool ${POOL}`),
          serverCpu: admin.backendCpu(bareUrl),
        },
        op: (i, round) => bareRetrying(deposit(i + round * ops)),
      },
      {
        name: 'pg:state-stored-deposit',
        options: {
          ...options(ops, 'server', `createStateStoredHandler, ${IN_FLIGHT} in flight over ${ACCOUNTS} rows, pool ${POOL}`),
          serverCpu: admin.backendCpu(storeUrl),
        },
        op: (i, round) => handle(deposit(i + round * ops), {}),
      },
    );
    await pool.end();
    await store.close();
  } finally {
    await admin.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-state-stored-'));
try {
  if (!process.argv.includes('--no-sqlite')) await sqlite(dir);
  if (!process.argv.includes('--no-postgres')) await postgres();
  printTable();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
