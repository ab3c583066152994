// What routing by tenant costs: deposits (one event each, concurrency 32) through tenant buses over four SQLite files,
// one per tenant, beside the same commands through one command bus on one file, and bare better-sqlite3 doing the
// version check and insert per command into the four files round-robin (the driver imported here only, as in
// raw-sqlite-baseline.ts: a baseline, not library code). Rounds alternate so the shared machine's load touches all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  type CommandBus,
  createCommandBus,
  createCommandHandler,
  createTenantCommandBus,
  createTenantRegistry,
  type Principal,
  tenantPath,
} from 'chronicle-es';
import { createSqliteEventStore, type SqliteEventStore } from 'chronicle-es/sqlite';
import { account, Deposit } from '../src/core/tenancy/fixtures/ledger.js';
import { alternateSides, type MeasureOptions, printTable, scaled, warmUp } from './harness.js';

const TENANTS = ['t0', 't1', 't2', 't3'];
const CONCURRENCY = 32;
const ACCOUNTS = 500;
const SYNC = 'normal';

const ledgerBus = (store: SqliteEventStore): CommandBus =>
  createCommandBus().register(
    Deposit,
    createCommandHandler({ store, decider: account, streamId: (c) => `account-${c.data.accountId}` }),
  );

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-tenancy-'));
  const stores: SqliteEventStore[] = [];
  const open = (path: string) => {
    const store = createSqliteEventStore({ path, synchronous: SYNC });
    stores.push(store);
    return store;
  };
  try {
    const tenants = createTenantRegistry({
      open: (tenantId) => ({ commandBus: ledgerBus(open(tenantPath(join(dir, '{tenant}.events.db'), tenantId))) }),
    });
    const routed = createTenantCommandBus({ tenants, commands: [Deposit] });
    const single = ledgerBus(open(join(dir, 'single.events.db')));
    const clerks: Principal[] = TENANTS.map((tenantId) => ({ id: `clerk-${tenantId}`, roles: ['clerk'], tenantId }));
    const plain: Principal = { id: 'clerk', roles: ['clerk'] };

    const bare = TENANTS.map((tenantId) => {
      const db = new Database(join(dir, `bare-${tenantId}.db`));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${SYNC.toUpperCase()}`);
      db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
        type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, version))`);
      const head = db.prepare('SELECT max(version) AS v FROM events WHERE stream_id = ?').pluck();
      const insert = db.prepare('INSERT INTO events (stream_id, version, type, data, metadata) VALUES (?, ?, ?, ?, ?)');
      const append = db.transaction((streamId: string, data: string, metadata: string) => {
        insert.run(streamId, ((head.get(streamId) as number | null) ?? 0) + 1, 'Deposited', data, metadata);
      });
      return { db, append };
    });

    const ops = scaled(8000);
    const options = (): MeasureOptions => ({ ops, concurrency: CONCURRENCY, eventsPerOp: 1, sync: SYNC, unit: 'ops/s' });
    const payload = (i: number, round: number) => ({ accountId: `acc-${round}-${i % ACCOUNTS}`, amount: 1 });
    await warmUp(CONCURRENCY, (k) => routed.dispatch(Deposit, payload(k, -1), { principal: clerks[k % TENANTS.length] }));
    await warmUp(CONCURRENCY, (k) => single.dispatch(Deposit, payload(k, -1), { principal: plain }));

    await alternateSides(3, [
      {
        name: 'raw-better-sqlite3:deposit-4-tenant-files',
        options: { ...options(), note: 'baseline, bare driver: a transaction (version read + insert) per command' },
        op: async (i, round) => {
          const { accountId, amount } = payload(i, round);
          const tenant = i % TENANTS.length;
          bare[tenant].append(
            `account-${accountId}`,
            JSON.stringify({ accountId, amount }),
            JSON.stringify({ actor: clerks[tenant].id, tenantId: TENANTS[tenant] }),
          );
        },
      },
      {
        name: 'chronicle:deposit-one-store',
        versus: 'raw-better-sqlite3:deposit-4-tenant-files',
        options: { ...options(), note: 'one command bus, one SQLite file' },
        op: (i, round) => single.dispatch(Deposit, payload(i, round), { principal: plain }),
      },
      {
        name: 'chronicle:deposit-tenant-routed-4',
        versus: 'raw-better-sqlite3:deposit-4-tenant-files',
        alsoVersus: ['chronicle:deposit-one-store'],
        options: { ...options(), note: 'tenant buses, four tenants round-robin, a SQLite file each' },
        op: (i, round) => routed.dispatch(Deposit, payload(i, round), { principal: clerks[i % TENANTS.length] }),
      },
    ]);
    printTable();
    for (const { db } of bare) db.close();
    await tenants.close();
  } finally {
    await Promise.all(stores.map((s) => s.close().catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
