import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChronicleError } from 'chronicle-es';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteEventStore, createSqliteReadStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-read-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the read store file', () => {
  it('refuses the event store file, whose writes its transactions could stall', async () => {
    const path = join(dir, 'events.db');
    const events = createSqliteEventStore({ path });
    await events.append('order-1', [{ type: 'OrderPlaced', data: {} }]);
    let caught: unknown;
    try {
      createSqliteReadStore({ path });
    } catch (err) {
      caught = err;
    }
    expect(isChronicleError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toContain('file of its own');
    // The event store is untouched and still writes.
    expect((await events.append('order-1', [{ type: 'OrderPaid', data: {} }])).version).toBe(2);
    await events.close();
  });

  it('opens a file of its own beside the event store', async () => {
    const events = createSqliteEventStore({ path: join(dir, 'e2.db') });
    const read = createSqliteReadStore({ path: join(dir, 'r2.db') });
    expect(await read.list()).toEqual([]);
    await read.close();
    await events.close();
  });
});
