import { type AppendResult, isChronicleError, prepareTaggedEvents, Query, type TaggedEvent } from 'chronicle-es';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
// The client's encoding of a group: the test speaks to append_events the way a store does.
import { appendEventsSql, encodeGroup } from '../../src/postgres/event-store-append.js';
import { sqlCondition } from '../../src/postgres/event-store-conditions.js';
import { pgStoreFixture, sleep, token } from '../support/pg-store-fixture.js';
import { PG_URL, pgAvailable } from '../support/postgres.js';

const { fresh, clients, open } = pgStoreFixture('dcbheld', 2);

/** Runs a tagged append through append_events in a transaction of its own connection and leaves it open. */
async function holdTagged(events: TaggedEvent[], condition?: { query: Query; after: number }) {
  const client = new pg.Client({ connectionString: PG_URL });
  clients.push(client);
  await client.connect();
  await client.query('BEGIN');
  const writes = prepareTaggedEvents(events, new Date().toISOString());
  const { rows } = await client.query(
    `${appendEventsSql(`"${fresh.schema}"`)} AS answer`,
    encodeGroup([{ writes, key: undefined, fingerprint: undefined, condition: sqlCondition(condition) }]),
  );
  const answer = JSON.parse(rows[0].answer)[0] as { r: Array<[number, number]> };
  expect(answer.r).toBeDefined();
  return { client, position: answer.r[answer.r.length - 1][1] };
}

// Settles to 'ok' or the error code, and records when.
function timed(p: Promise<AppendResult[]>) {
  const out: { at?: number; outcome?: string; error?: unknown } = {};
  const done = p.then(
    () => {
      out.at = Date.now();
      out.outcome = 'ok';
    },
    (err: unknown) => {
      out.at = Date.now();
      out.outcome = isChronicleError(err) ? err.code : String(err);
      out.error = err;
    },
  );
  return { out, done };
}

describe.skipIf(!pgAvailable)('postgres append conditions: a transaction held open', () => {
  it('an overlapping conditional append waits for it and then conflicts; a disjoint one commits meanwhile', async () => {
    const racing = open();
    const disjointStore = open();
    const tag = `seat:${token()}`;
    const { head } = await racing.read(Query.tags(tag));
    const held = await holdTagged([{ streamId: `claim-${tag}`, type: 'SeatClaimed', data: {}, tags: [tag] }], {
      query: Query.tags(tag),
      after: head,
    });

    const overlapping = timed(
      racing.append([{ streamId: `other-${tag}`, type: 'SeatClaimed', data: {}, tags: [tag] }], {
        condition: { failIfEventsMatch: Query.tags(tag), after: head },
      }),
    );
    const mine = `seat:${token()}`;
    const disjoint = await disjointStore.append([{ streamId: `claim-${mine}`, type: 'SeatClaimed', data: {}, tags: [mine] }], {
      condition: { failIfEventsMatch: Query.tags(mine), after: 0 },
    });
    expect(disjoint).toHaveLength(1);
    await sleep(300);
    expect(overlapping.out.outcome).toBeUndefined();

    const committedAt = Date.now();
    await held.client.query('COMMIT');
    await overlapping.done;
    expect(overlapping.out.outcome).toBe('CONCURRENCY_CONFLICT');
    expect(overlapping.out.at).toBeGreaterThanOrEqual(committedAt);
    expect((overlapping.out.error as { details: unknown }).details).toEqual({ position: held.position, after: head });
    const { events } = await racing.read(Query.tags(tag));
    expect(events.map((e) => e.streamId)).toEqual([`claim-${tag}`]);
  });

  it('a plain stream append to a tag a held condition queries waits too, then commits after it', async () => {
    const store = open();
    const id = `account-${token()}`;
    const held = await holdTagged([{ streamId: `audit-${id}`, type: 'Checked', data: {} }], {
      query: Query.tags(id),
      after: 0,
    });
    const plain = timed(store.append(id, [{ type: 'Opened', data: {} }]).then((r) => [r]));
    await sleep(200);
    expect(plain.out.outcome).toBeUndefined();
    await held.client.query('COMMIT');
    await plain.done;
    expect(plain.out.outcome).toBe('ok');
    const [opened] = await store.readStream(id);
    expect(opened.position).toBeGreaterThan(held.position);
  });

  it('a read during a held append stops below it, so the condition from that read sees it once committed', async () => {
    const reader = open();
    const other = open();
    const tag = `lot:${token()}`;
    const held = await holdTagged([{ streamId: `bid-${tag}`, type: 'BidPlaced', data: {}, tags: [tag] }]);
    // Another store commits past the held position.
    const later = await other.append(`elsewhere-${tag}`, [{ type: 'Noted', data: {} }]);
    expect(later.position).toBeGreaterThan(held.position);
    const { events, head } = await reader.read(Query.tags(tag));
    expect(events).toEqual([]);
    expect(head).toBeLessThan(held.position);
    await held.client.query('COMMIT');
    const err = await reader
      .append([{ streamId: `bid2-${tag}`, type: 'BidPlaced', data: {}, tags: [tag] }], {
        condition: { failIfEventsMatch: Query.tags(tag), after: head },
      })
      .catch((e: unknown) => e);
    expect(isChronicleError(err, 'CONCURRENCY_CONFLICT')).toBe(true);
    expect((err as { details: { position: number } }).details.position).toBe(held.position);
  });
});
