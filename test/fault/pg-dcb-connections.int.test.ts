// Append conditions on PostgreSQL from several connections: stores on their own pools race conditional appends on one
// schema at READ COMMITTED. Per round exactly one of the appenders whose queries overlap commits, every appender with a
// query of its own commits, and 50 buyers of a stock of 10 get exactly 10 units. The same races run with a pause
// between check and insert (the overlap is certain, not luck) and, to show that the exclusive locks are what makes it
// exact, with them taken shared: then several overlapping appenders commit. (The buyers alone do not show it: a read
// during another store's append gets a head below that append's commit, so the racing buyers mostly conflict anyway.)
import { randomUUID } from 'node:crypto';
import { type AppendResult, isChronicleError, Query, type TaggedEvent } from 'chronicle-es';
import { createPostgresEventStore, type PostgresEventStore } from 'chronicle-es/postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../support/postgres.js';
import { patchAppendEvents } from './pg-dcb-patch.js';

const STORES = 5;
const schemas: Array<{ drop(): Promise<void> }> = [];
const opened: PostgresEventStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

/** STORES stores, each on its own pool of 2, on one fresh schema (migrated). */
async function stores(): Promise<{ schema: string; all: PostgresEventStore[] }> {
  const fresh = freshSchema('dcbconn');
  schemas.push(fresh);
  const all = Array.from({ length: STORES }, () =>
    createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 }),
  );
  opened.push(...all);
  await Promise.all(all.map((s) => s.headPosition()));
  return { schema: fresh.schema, all };
}

const token = () => randomUUID().slice(0, 8);
const settle = (p: Promise<AppendResult[]>) =>
  p.then(
    (results) => ({ ok: true as const, results }),
    (err: unknown) => {
      if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
      return { ok: false as const, position: (err.details as { position: number }).position };
    },
  );

// One round: every store reads the shared query, then all append at once, each an event the shared query matches
// under the shared condition, plus an event under a condition of its own that nothing else matches.
async function round(all: PostgresEventStore[], shared: (i: number) => { query: Query; event: TaggedEvent }) {
  const own = token();
  const reads = await Promise.all(all.map((s, i) => s.read(shared(i).query)));
  const ownReads = await Promise.all(all.map((s, i) => s.read(Query.tags(`own-${own}-${i}`))));
  const [overlapping, disjoint] = await Promise.all([
    Promise.all(
      all.map((s, i) =>
        settle(s.append([shared(i).event], { condition: { failIfEventsMatch: shared(i).query, after: reads[i].head } })),
      ),
    ),
    Promise.all(
      all.map((s, i) =>
        settle(
          s.append([{ streamId: `own-${own}-${i}`, type: 'Own', data: { i }, tags: [`own-${own}-${i}`] }], {
            condition: { failIfEventsMatch: Query.tags(`own-${own}-${i}`), after: ownReads[i].head },
          }),
        ),
      ),
    ),
  ]);
  return { overlapping, disjoint };
}

// The shapes of overlapping queries the rounds cycle through: a tag, two tags of one item, a type only, and a stream
// id (the stream append of another store must conflict with it too).
function shapes(k: number, run: string): (i: number) => { query: Query; event: TaggedEvent } {
  const tag = `item-${run}-${k}`;
  switch (k % 4) {
    case 0:
      return (i) => ({
        query: Query.tags(tag),
        event: { streamId: `buyer-${run}-${k}-${i}`, type: 'Claimed', data: { i }, tags: [tag] },
      });
    case 1:
      return (i) => ({
        query: [{ tags: [tag, 'shared-second'] }],
        event: { streamId: `buyer-${run}-${k}-${i}`, type: 'Claimed', data: { i }, tags: [`x-${i}`, 'shared-second', tag] },
      });
    case 2:
      return (i) => ({
        query: [{ types: [`Typed${run}${k}`] }],
        event: { streamId: `buyer-${run}-${k}-${i}`, type: `Typed${run}${k}`, data: { i } },
      });
    default:
      return (i) => ({ query: Query.tags(`stream-${tag}`), event: { streamId: `stream-${tag}`, type: 'Claimed', data: { i } } });
  }
}

// Buyers read the product's reservations and reserve one unit under the condition that none was reserved since; on a
// conflict they read again. Returns how many units the log holds afterwards and how many conflicts there were.
async function oversell(all: PostgresEventStore[], stock: number, buyers: number) {
  const product = `product:${token()}`;
  let retries = 0;
  async function buy(buyer: number): Promise<boolean> {
    const store = all[buyer % all.length];
    for (;;) {
      const { events, head } = await store.read(Query.tags(product));
      if (events.length >= stock) return false;
      try {
        await store.append([{ streamId: `buyer-${product}-${buyer}`, type: 'UnitReserved', data: { buyer }, tags: [product] }], {
          condition: { failIfEventsMatch: Query.tags(product), after: head },
        });
        return true;
      } catch (err) {
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
        retries++;
      }
    }
  }
  const bought = (await Promise.all(Array.from({ length: buyers }, (_, b) => buy(b)))).filter(Boolean).length;
  const { events } = await all[0].read(Query.tags(product));
  expect(events).toHaveLength(bought);
  expect(new Set(events.map((e) => (e.data as { buyer: number }).buyer)).size).toBe(bought);
  return { sold: bought, retries };
}

function winners(overlapping: Array<{ ok: boolean }>): number {
  return overlapping.filter((o) => o.ok).length;
}

describe.skipIf(!pgAvailable)('postgres append conditions: several connections', () => {
  it('per round exactly one overlapping appender commits and every disjoint one does', { timeout: 60_000 }, async () => {
    const { all } = await stores();
    const run = token();
    for (let k = 0; k < 16; k++) {
      const { overlapping, disjoint } = await round(all, shapes(k, run));
      expect(winners(overlapping), `round ${k}`).toBe(1);
      const won = overlapping.find((o) => o.ok) as { results: AppendResult[] };
      // Each loser names the winner's event as the first conflicting one.
      for (const o of overlapping) if (!o.ok) expect(o.position).toBe(won.results[0].position);
      expect(disjoint.every((d) => d.ok)).toBe(true);
    }
  });

  it('with a pause between check and insert, still exactly one per round', { timeout: 60_000 }, async () => {
    const { schema, all } = await stores();
    await patchAppendEvents(PG_URL, schema, { exclusiveLocks: true, pauseMs: 50 });
    const run = token();
    for (let k = 0; k < 8; k++) {
      const { overlapping, disjoint } = await round(all, shapes(k, run));
      expect(winners(overlapping), `round ${k}`).toBe(1);
      expect(disjoint.every((d) => d.ok)).toBe(true);
    }
  });

  it('without the exclusive locks the same race lets several appenders commit (the locks make it exact)', {
    timeout: 60_000,
  }, async () => {
    const { schema, all } = await stores();
    await patchAppendEvents(PG_URL, schema, { exclusiveLocks: false, pauseMs: 200 });
    const run = token();
    const counts: number[] = [];
    // Not the stream-id shape: the stream row lock orders two appends to one stream whatever the condition locks do.
    for (const k of [0, 1, 2, 4, 5, 6]) counts.push(winners((await round(all, shapes(k, run))).overlapping));
    expect(
      counts.every((c) => c > 1),
      `winners per round ${counts}`,
    ).toBe(true);
  });

  it('50 buyers on five pools for a stock of 10: exactly 10 get one', { timeout: 60_000 }, async () => {
    const { all } = await stores();
    const { sold, retries } = await oversell(all, 10, 50);
    expect(sold).toBe(10);
    expect(retries).toBeGreaterThan(0);
  });
});
