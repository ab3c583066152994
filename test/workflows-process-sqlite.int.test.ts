// The process-manager runtime on SQLite files: an event store file and a read store file of its own, as the embedded
// topology runs it. The steps' async sends run inside the read store's open transaction; state, refusals and
// failures survive closing and reopening the files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChronicleError, COMMAND_REFUSED, processStreamId } from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { crashingBeforeCommit, expiryKey, orderWorld } from '../src/core/workflows/fixtures/process-orders.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-pm-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const open = () => {
  const n = ++files;
  return {
    eventsPath: join(dir, `events-${n}.db`),
    readPath: join(dir, `read-${n}.db`),
  };
};

const stateRow = (read: SqliteReadStore, key: string) => {
  const reader = read.reader('order_process');
  const row = reader.get<{ data: string }>(`SELECT data FROM ${reader.table('state')} WHERE id = ?`, [key]);
  return row && JSON.parse(row.data);
};

describe('process managers on SQLite files', () => {
  it('sends each command once, records refusals once and keeps state in the read store file across a restart', async () => {
    const paths = open();
    let eventStore = createSqliteEventStore({ path: paths.eventsPath });
    let readStore = createSqliteReadStore({ path: paths.readPath });
    let w = orderWorld({ eventStore, readStore, batchSize: 50 });
    // 300 orders, every tenth too big to reserve: refused, recorded and compensated.
    const ids = Array.from({ length: 300 }, (_, i) => `o${i}`);
    await eventStore.appendMany(
      ids.map((id, i) => ({
        streamId: `order-${id}`,
        events: [{ type: 'OrderPlaced', data: { orderId: id, amount: i % 10 === 9 ? 500 : 1 } }],
      })),
    );
    await w.start();
    await w.caughtUp(20_000);
    const big = ids.filter((_, i) => i % 10 === 9);
    const small = ids.filter((_, i) => i % 10 !== 9);
    expect((await w.reserved()).sort()).toEqual([...small].sort());
    expect((await w.ofType(COMMAND_REFUSED)).length).toBe(big.length);
    expect((await w.ofType('OrderReleased')).map((e) => (e.data as { orderId: string }).orderId).sort()).toEqual([...big].sort());
    expect(stateRow(readStore, 'o0')).toEqual({ amount: 1, status: 'placed' });
    expect(stateRow(readStore, 'o9')).toEqual({ amount: 500, status: 'refused', refusals: 1 });
    await w.stop();
    await readStore.close();
    await eventStore.close();

    // Reopened: the state is read back from the file, so paying ends the process and cancels its expiry.
    eventStore = createSqliteEventStore({ path: paths.eventsPath });
    readStore = createSqliteReadStore({ path: paths.readPath });
    w = orderWorld({ eventStore, readStore });
    await w.pay('o0');
    await w.pay('o1');
    await w.start();
    await w.caughtUp();
    expect(stateRow(readStore, 'o0')).toBeUndefined();
    expect(stateRow(readStore, 'o2')).toEqual({ amount: 1, status: 'placed' });
    expect(w.writer.calls.map((c) => `${c.kind}:${c.key}`)).toEqual([`cancel:${expiryKey('o0')}`, `cancel:${expiryKey('o1')}`]);
    // Nothing from before the restart was sent again.
    expect(w.sent).toHaveLength(0);
    expect((await w.reserved()).length).toBe(small.length);
    expect(await eventStore.readStream(processStreamId('order_process', 'o9'))).toHaveLength(1);
    await w.stop();
    await readStore.close();
    await eventStore.close();
  });

  it('replays a batch whose commit did not happen with the same keys: no second effect, state rolled back and redone', async () => {
    const paths = open();
    const eventStore = createSqliteEventStore({ path: paths.eventsPath });
    const readStore = createSqliteReadStore({ path: paths.readPath });
    const w = orderWorld({ eventStore, readStore: crashingBeforeCommit(readStore, 1) });
    for (let i = 0; i < 20; i++) await w.place(`c${i}`, i === 5 ? 200 : 1);
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    // The crashed batch's state never reached the file.
    expect(stateRow(readStore, 'c0')).toBeUndefined();
    await w.projector.retry('order_process');
    await w.caughtUp();
    // Every reservation sent again under its key, but for the refused one: its recorded refusal is found instead.
    expect(w.sent.filter((s) => s.type === 'ReserveStock')).toHaveLength(39);
    expect(w.sent.filter((s) => (s.data as { orderId: string }).orderId === 'c5' && s.type === 'ReserveStock')).toHaveLength(1);
    expect((await w.reserved()).length).toBe(19);
    expect(await eventStore.readStream(processStreamId('order_process', 'c5'))).toHaveLength(1);
    expect((await w.ofType('OrderReleased')).length).toBe(1);
    expect(stateRow(readStore, 'c0')).toEqual({ amount: 1, status: 'placed' });
    await w.stop();
    await readStore.close();
    await eventStore.close();
  });

  it('stores a failure on the triggering event in the file; a new projector retries it, and skip passes it', async () => {
    const paths = open();
    let eventStore = createSqliteEventStore({ path: paths.eventsPath });
    let readStore = createSqliteReadStore({ path: paths.readPath });
    let failing = true;
    const before = (sent: { data: unknown }) => {
      if (failing && (sent.data as { orderId: string }).orderId === 'f2') throw new ChronicleError('STORE_ERROR', 'disk full');
    };
    let w = orderWorld({ eventStore, readStore, before, retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 } });
    for (const id of ['f1', 'f2', 'f3']) await w.place(id);
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    const [, f2] = await w.ofType('OrderPlaced');
    await w.stop();
    expect((await readStore.load('order_process'))?.failure).toMatchObject({
      eventId: f2.id,
      position: f2.position,
      code: 'STORE_ERROR',
      message: 'disk full',
    });
    await readStore.close();
    await eventStore.close();

    // A restart retries the failed event; it still fails, so the operator skips it.
    eventStore = createSqliteEventStore({ path: paths.eventsPath });
    readStore = createSqliteReadStore({ path: paths.readPath });
    w = orderWorld({ eventStore, readStore, before, retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 } });
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await w.projector.skip('order_process');
    await w.caughtUp();
    expect((await w.reserved()).sort()).toEqual(['f1', 'f3']);
    expect((await readStore.skipped('order_process')).map((s) => s.eventId)).toEqual([f2.id]);
    failing = false;
    await w.place('f4');
    await w.caughtUp();
    expect((await w.reserved()).sort()).toEqual(['f1', 'f3', 'f4']);
    await w.stop();
    await readStore.close();
    await eventStore.close();
  });
});
