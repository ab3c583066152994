// `npm run rebuild-read-store` over a damaged read.db (Shop stopped): the old file is kept aside, the new one holds
// everything the event log says, and the Shop then starts on it with nothing left to rebuild.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Principal } from 'chronicle-es';
import { afterAll, describe, expect, it } from 'vitest';
import { corruptPages } from '../../../test/support/corrupt-file.js';
import { createShop } from '../app.js';

const dataDir = mkdtempSync(join(tmpdir(), 'shop-rebuild-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const admin: Principal = { id: 'test', roles: ['admin'] };

const rebuild = () =>
  promisify(execFile)(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', 'examples/shop/rebuild-read-store.ts'],
    { env: { ...process.env, DATA_DIR: dataDir } },
  );

describe('npm run rebuild-read-store', () => {
  it('replaces a damaged read store with one rebuilt from the event log, keeping the damaged file', async () => {
    let shop = await createShop({ dataDir });
    for (let i = 0; i < 40; i++) {
      await shop.commandBus.dispatch(
        'RegisterCustomer',
        { customerId: `r-${i}`, name: `Customer ${i}`, email: `r${i}@example.com` },
        { principal: admin },
      );
    }
    const head = await shop.eventStore.headPosition();
    await shop.projector!.waitForPosition(head);
    await shop.close();
    corruptPages(join(dataDir, 'read.db'));

    const { stdout } = await rebuild();
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ msg: 'read store rebuilt', wasDamaged: true, position: head });
    expect(existsSync(report.movedTo)).toBe(true);
    expect(readdirSync(dataDir).filter((f) => f.startsWith('read.db.'))).toEqual([report.movedTo.split('/').at(-1)]);

    // The Shop starts on the rebuilt file: sound, nothing set aside again, every customer there at once.
    shop = await createShop({ dataDir });
    try {
      expect(shop.readSideState!()).toBe('sound');
      expect(await shop.ready()).toBe(true);
      const customer = await shop.queryBus!.run('GetCustomerById', { customerId: 'r-39' }, { principal: admin });
      expect(customer).toMatchObject({ customerId: 'r-39', email: 'r39@example.com' });
      expect(await shop.eventStore.headPosition()).toBe(head);
    } finally {
      await shop.close();
    }

    // Run on a sound store, it keeps the old file as read.db.old-<time>.
    const again = JSON.parse((await rebuild()).stdout.trim().split('\n').at(-1)!);
    expect(again).toMatchObject({ wasDamaged: false, position: head });
    expect(again.movedTo).toMatch(/read\.db\.old-/);
  }, 60_000);
});
