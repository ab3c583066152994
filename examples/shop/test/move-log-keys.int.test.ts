// `move-log` between SQLite files with crypto-shredding: the keys stay behind in the source file, so the move reads
// through the source's keys and writes through the target's. A moved customer reads as it did; a forgotten one stays
// forgotten; the target file holds neither in plain text.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandBus, FORGOTTEN, type Principal } from 'chronicle-es';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../commands.js';
import { moveLog } from '../move-log.js';
import { openShopEventStore } from '../shop-event-store.js';

const admin: Principal = { id: 'mover', roles: ['admin'] };
const dir = mkdtempSync(join(tmpdir(), 'shop-move-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('move-log with personal data', () => {
  it('moves customers readable, forgotten ones forgotten, and nothing in plain text', async () => {
    const from = join(dir, 'from.db');
    const to = join(dir, 'to.db');
    const source = openShopEventStore({ path: from });
    const bus = createCommandBus();
    registerCommands(bus, source, { forgetSubject: (id) => source.forget(id) });
    const send = (name: string, payload: unknown) => bus.dispatch(name, payload, { principal: admin });
    await send('RegisterCustomer', { customerId: 'ada', name: 'Ada Movable', email: 'ada.movable@example.com' });
    await send('RegisterCustomer', { customerId: 'eve', name: 'Eve Gone', email: 'eve.gone@example.com' });
    await send('ForgetCustomer', { customerId: 'eve' });
    await source.close();

    await moveLog({ from: { kind: 'sqlite', path: from }, to: { kind: 'sqlite', path: to } });
    const target = openShopEventStore({ path: to });
    try {
      const byCustomer = async (id: string) => (await target.readStream(`customer-${id}`))[0].data;
      expect(await byCustomer('ada')).toMatchObject({ name: 'Ada Movable', email: 'ada.movable@example.com' });
      expect(await byCustomer('eve')).toMatchObject({ name: FORGOTTEN, email: FORGOTTEN });
      const bytes = readFileSync(to).toString('latin1') + readFileSync(`${to}-wal`, { flag: 'a+' }).toString('latin1');
      expect(bytes).not.toContain('ada.movable@example.com');
      expect(bytes).not.toContain('Eve Gone');
    } finally {
      await target.close();
    }
  });
});
