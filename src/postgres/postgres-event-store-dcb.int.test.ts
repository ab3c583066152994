import { isChronicleError, Query, type TaggedEvent } from 'chronicle-es';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgStoreFixture, sleep, token } from '../../test/support/pg-store-fixture.js';
import { PG_URL, pgAvailable } from '../../test/support/postgres.js';
import { appendEventsSql, encodeGroup } from './event-store-append.js';
import { CONDITION_LOCK_CLASS, MAX_CONDITION_LOCKS } from './event-store-schema-v2.js';

const { fresh, clients, open } = pgStoreFixture('dcb', 3);
const reserve = (product: string, order: string): TaggedEvent => ({
  streamId: `order-${order}`,
  type: 'Reserved',
  data: { product },
  tags: [product],
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  clients.push(c);
  await c.connect();
  return c;
}

// The condition locks of this schema held or asked for right now, by mode: those on the store-wide key, or on the keys
// of `names` (other test files' stores take locks in the same database, on other keys).
async function conditionLocks(c: pg.Client, names: string[] = []): Promise<Array<{ mode: string; granted: boolean }>> {
  const { rows } = await c.query(
    `SELECT mode, granted FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid
      AND objid = ANY (SELECT hashtext('chronicle:dcb:' || $2 || ':' || n)::oid FROM unnest($3::text[]) AS n)
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [CONDITION_LOCK_CLASS, fresh.schema, ['g', ...names]],
  );
  return rows;
}

describe.skipIf(!pgAvailable)('postgres append conditions: groups and locks', () => {
  it('64 conditional appends in flight on distinct products share a few groups and all commit', async () => {
    const store = open();
    await store.headPosition();
    const run = token();
    const before = store.stats();
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        store.append([reserve(`product:${run}-${i}`, `${run}-${i}`)], {
          condition: { failIfEventsMatch: Query.tags(`product:${run}-${i}`), after: 0 },
        }),
      ),
    );
    expect(results.every((r) => r.length === 1 && !r[0].duplicate)).toBe(true);
    expect(store.stats().groups - before.groups).toBeLessThanOrEqual(3);
  });

  it('an append and a conditional append its events match, called together, commit in call order: the second conflicts', async () => {
    const store = open();
    const product = `product:${token()}`;
    const { head } = await store.read(Query.tags(product));
    const [first, second] = await Promise.allSettled([
      store.append([reserve(product, token())]),
      store.append([reserve(product, token())], { condition: { failIfEventsMatch: Query.tags(product), after: head } }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const err = (second as PromiseRejectedResult).reason;
    expect(isChronicleError(err, 'CONCURRENCY_CONFLICT')).toBe(true);
    expect(err.details.position).toBe((first as PromiseFulfilledResult<Array<{ position: number }>>).value[0].position);
  });

  it('a bulk append past the lock cap takes the store-wide lock exclusively: it waits for every other append', async () => {
    const bulkStore = open();
    const other = open();
    await bulkStore.headPosition();
    // A plain append held open holds the store-wide key shared.
    const held = await client();
    await held.query('BEGIN');
    const { rows } = await held.query(
      `${appendEventsSql(`"${fresh.schema}"`)} AS answer`,
      encodeGroup([
        { writes: [{ streamId: `held-${token()}`, expectedVersion: 'any', events: [] }], key: undefined, fingerprint: undefined },
      ]),
    );
    expect(JSON.parse(rows[0].answer)).toEqual([{ r: [[0, 0]] }]);

    const run = token();
    const tags = Array.from({ length: MAX_CONDITION_LOCKS }, (_, i) => `import:${run}-${i}`);
    let bulkDone = false;
    const bulk = bulkStore
      .append(tags.map((tag, i) => ({ streamId: `imported-${run}`, type: 'Imported', data: { i }, tags: [tag] })))
      .then((r) => {
        bulkDone = true;
        return r;
      });
    const watcher = await client();
    for (let i = 0; i < 100 && !(await conditionLocks(watcher)).some((l) => l.mode === 'ExclusiveLock' && !l.granted); i++) {
      await sleep(10);
    }
    expect(await conditionLocks(watcher)).toContainEqual({ mode: 'ExclusiveLock', granted: false });
    // Another small append also waits now (behind the exclusive request), until the held transaction ends.
    const small = other.append(`small-${run}`, [{ type: 'Small', data: {} }]);
    await sleep(200);
    expect(bulkDone).toBe(false);
    await held.query('COMMIT');
    const [written, after] = await Promise.all([bulk, small]);
    expect(written[0].version).toBe(MAX_CONDITION_LOCKS);
    expect(after.position).toBeGreaterThan(written[0].position);
    expect((await bulkStore.read(Query.tags(tags[17]))).events.map((e) => e.data)).toEqual([{ i: 17 }]);
  });

  it('condition locks end with their transaction: none is left once the appends settled', async () => {
    const store = open();
    const product = `product:${token()}`;
    await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.append([reserve(product, `${i}`)], {
          condition: { failIfEventsMatch: [{ types: ['Reserved'] }, Query.all()[0]], after: 0 },
        }),
      ),
    );
    expect(await conditionLocks(await client(), [`t:${product}`, 'y:Reserved'])).toEqual([]);
  });

  it('four stores appending and checking overlapping tags in every order settle with commits and conflicts only', {
    timeout: 60_000,
  }, async () => {
    const all = [open(), open(), open(), open()];
    const run = token();
    const tag = (k: number) => `hot:${run}-${k}`;
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const tags = [tag(random(6)), tag(random(6)), tag(random(6))];
        return all[i % 4]
          .append([{ streamId: `hot-${run}-${i % 13}`, type: `Hot${random(3)}`, data: { i }, tags }], {
            condition: { failIfEventsMatch: [{ tags: [tags[0]] }, { types: [`Hot${random(3)}`] }], after: 0 },
          })
          .then(
            () => 'ok',
            (err: unknown) => (isChronicleError(err, 'CONCURRENCY_CONFLICT') ? 'conflict' : String(err)),
          );
      }),
    );
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'conflict')).toEqual([]);
    expect(outcomes).toContain('ok');
  });
});
