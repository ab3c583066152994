// The CLI against a Shop on PostgreSQL (both stores in one fresh schema, the projector a lease-holding worker): status
// names the worker holding each projection, and a rebuild asked from the CLI is carried out by that worker.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShopProcess, startShopProcess } from '../../examples/shop/test/shop-process.js';
import { type FreshSchema, freshSchema, pgAvailable } from '../support/postgres.js';
import { cli, cliProcess, json } from './cli-run.js';

const ADMIN = 'cli-pg-admin-key-0123456789';
let dataDir: string;
let schema: FreshSchema;
let shop: ShopProcess;
let stores: string[];

describe.skipIf(!pgAvailable)('chronicle against a Shop on PostgreSQL', () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'chronicle-cli-shop-pg-'));
    schema = freshSchema('cli_shop');
    shop = await startShopProcess({
      dataDir,
      adminKey: ADMIN,
      env: {
        CHRONICLE_EVENT_STORE: schema.connectionString,
        CHRONICLE_READ_STORE: schema.connectionString,
        CHRONICLE_PG_SCHEMA: schema.schema,
      },
    });
    stores = ['--store', schema.connectionString, '--read-store', schema.connectionString, '--schema', schema.schema];
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`${shop.url}/commands/RegisterCustomer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
        body: JSON.stringify({ customerId: `pg${i}`, name: `Customer ${i}`, email: `pg${i}@example.com` }),
      });
      expect(res.status).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    if (shop && shop.child.exitCode === null && shop.child.signalCode === null) {
      shop.child.kill('SIGTERM');
      await once(shop.child, 'exit');
    }
    await schema?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('rebuilds on the worker holding the projection, which status names', { timeout: 120_000 }, async () => {
    let customers: { owner?: string; generation: number; state: string } | undefined;
    // The worker takes its leases within a round; status shows who holds it.
    for (let i = 0; i < 100 && !customers?.owner; i++) {
      customers = json(await cli(...stores, '--json', 'projections', 'status', 'customers')).projections[0];
      if (!customers?.owner) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(customers?.owner).toBeTruthy();
    const result = await cliProcess(...stores, '--json', 'projections', 'rebuild', 'customers', '--timeout', '20');
    expect(result.code, result.stderr).toBe(0);
    const report = json(result);
    expect(report.takenBy).toBe(customers!.owner);
    expect(report.generation).toBeGreaterThan(customers!.generation);
    const after = json(await cli(...stores, '--json', 'projections', 'status', 'customers')).projections[0];
    expect(after).toMatchObject({ generation: report.generation, lagEvents: 0 });
  });
});
