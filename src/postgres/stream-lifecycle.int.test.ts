// The lifecycle against an append held open by hand: the operation waits on the stream's row lock, then covers the
// held append (tombstone) or keeps it (truncate), and no subscriber passes the held positions meanwhile.
import { isChronicleError, prepareWrite, type RecordedEvent } from 'chronicle-es';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgStoreFixture, sleep, token } from '../../test/support/pg-store-fixture.js';
import { PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { appendEventsSql, encodeGroup } from './event-store-append.js';

const { fresh, clients, open } = pgStoreFixture('life', 4);
const counted = (n: number) => ({ type: 'Counted', data: { n } });

/** BEGINs an append through append_events on a connection of its own and leaves its transaction open. */
async function holdAppend(streamId: string, count: number) {
  const client = new pg.Client({ connectionString: PG_URL });
  clients.push(client);
  await client.connect();
  await client.query('BEGIN');
  const write = prepareWrite(
    { streamId, events: Array.from({ length: count }, (_, i) => counted(100 + i)) },
    new Date().toISOString(),
  );
  const { rows } = await client.query(
    `${appendEventsSql(`"${fresh.schema}"`)} AS answer`,
    encodeGroup([{ writes: [write], key: undefined, fingerprint: undefined }]),
  );
  const [[, last]] = JSON.parse(rows[0].answer)[0].r as Array<[number, number]>;
  return { client, last };
}

/** Settles to 'pending' when `promise` has not settled by the time a short wait ends. */
const stateAfter = async (promise: Promise<unknown>, ms: number) =>
  Promise.race([
    promise.then(
      () => 'resolved',
      () => 'rejected',
    ),
    sleep(ms).then(() => 'pending'),
  ]);

describe.skipIf(!pgAvailable)('postgres stream lifecycle: an append held open', () => {
  it('a tombstone waits for the held append, then removes it too; no subscriber passes the held positions', async () => {
    const store = open();
    const other = open();
    const category = `held${token().replaceAll('-', '')}`;
    const [x, y] = [`${category}-x`, `${category}-y`];
    await store.append(x, [counted(1), counted(2)]);
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribe({ from: 0, filter: { categories: [category] }, pollIntervalMs: 20 }, (batch) => {
      delivered.push(...batch);
    });
    try {
      const held = await holdAppend(x, 3);
      const after = [];
      for (let i = 0; i < 5; i++) after.push(await other.append(y, [counted(i)]));
      const tombstone = store.lifecycle.tombstone(x);
      // It waits on the stream's row lock, which the held append holds.
      expect(await stateAfter(tombstone, 300)).toBe('pending');
      expect(delivered.every((e) => e.position < held.last - 2)).toBe(true);
      expect(delivered.map((e) => `${e.streamId}@${e.version}`)).toEqual([`${x}@1`, `${x}@2`]);
      // Other streams are not held up by it.
      expect((await other.append(`${category}-z`, [counted(9)])).version).toBe(1);

      await held.client.query('COMMIT');
      await tombstone;
      expect((await store.readAll({ from: 0 })).filter((e) => e.streamId === x)).toEqual([]);
      const error = await store.append(x, [counted(3)]).catch((e: unknown) => e);
      expect(isChronicleError(error, 'STREAM_DELETED')).toBe(true);
      expect((error as { details: { tombstoned?: boolean } }).details.tombstoned).toBe(true);

      // Every event of y reaches the subscriber, in order: none was skipped around the removed positions.
      const lastY = after[after.length - 1].position;
      for (let i = 0; i < 250 && !delivered.some((e) => e.position === lastY); i++) await sleep(20);
      expect(delivered.filter((e) => e.streamId === y).map((e) => e.position)).toEqual(after.map((r) => r.position));
      const positions = delivered.map((e) => e.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(new Set(positions).size).toBe(positions.length);
    } finally {
      await sub.stop();
    }
  });

  it('a truncate waits for the held append and keeps it: it is above the truncation point', async () => {
    const store = open();
    const x = `trunc${token().replaceAll('-', '')}-x`;
    await store.append(x, [counted(1), counted(2), counted(3)]);
    const held = await holdAppend(x, 2);
    const truncate = store.lifecycle.truncate(x, { before: 3 });
    expect(await stateAfter(truncate, 300)).toBe('pending');
    await held.client.query('COMMIT');
    expect(await truncate).toEqual({ removed: 2 });
    expect((await store.readStream(x)).map((e) => e.version)).toEqual([3, 4, 5]);
    expect((await store.append(x, [counted(6)], { expectedVersion: 5 })).version).toBe(6);
  });

  it('an archive racing a held append to another stream of the same category leaves the subscriber whole', async () => {
    const store = open();
    const category = `arch${token().replaceAll('-', '')}`;
    const [x, y] = [`${category}-x`, `${category}-y`];
    await store.append(x, [counted(1), counted(2)]);
    await store.deleteStream(x);
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribe({ from: 0, filter: { categories: [category] }, pollIntervalMs: 20 }, (batch) => {
      delivered.push(...batch);
    });
    try {
      const held = await holdAppend(y, 2);
      // The archive does not wait on an append to another stream.
      expect(await store.lifecycle.archive(x)).toEqual({ archived: 2 });
      const later = await store.append(`${category}-z`, [counted(3)]);
      await sleep(200);
      expect(delivered.some((e) => e.position >= held.last - 1)).toBe(false);
      await held.client.query('COMMIT');
      for (let i = 0; i < 250 && !delivered.some((e) => e.position === later.position); i++) await sleep(20);
      expect(delivered.filter((e) => e.streamId === y).map((e) => e.version)).toEqual([1, 2]);
      expect(delivered.filter((e) => e.streamId !== x).map((e) => e.position)).toEqual([
        held.last - 1,
        held.last,
        later.position,
      ]);
      expect((await store.lifecycle.readArchived(x)).map((e) => e.version)).toEqual([1, 2]);
    } finally {
      await sub.stop();
    }
  });

  it('a page of nothing but removed positions below the known safe head reads on to the events after them', async () => {
    const store = open();
    const other = open();
    const x = `gap${token().replaceAll('-', '')}-x`;
    const written = await store.append(
      x,
      Array.from({ length: 10 }, (_, i) => counted(i)),
    );
    // The store now knows a safe head at x's last event; y commits past it from another pool.
    expect(await store.headPosition()).toBe(written.position);
    const y = await other.append(`${x}y`, [counted(1), counted(2)]);
    await store.lifecycle.tombstone(x);
    const page = await store.readAll({ from: written.position - 9, limit: 3 });
    // Empty, a subscriber would take it for the tail and idle (it did: the conformance race caught it).
    expect(page.map((e) => e.position)).toEqual([y.position - 1, y.position]);
  });
});
