// Conformance races for append conditions: concurrent read → decide → conditional append must stay exact, inside one
// store instance and, when the factory gives a peer, across two instances over the same data.
import assert from 'node:assert/strict';
import { type AppendResult, type EventStore, isChronicleError, type NewEvent, Query, type RecordedEvent } from 'chronicle-es';
import { assertCode, type ConformanceRunner } from './conformance-kit.js';
import { APPEND_FORMS, ev, freshStream, freshTag, freshType, ns, range } from './event-store-case-kit.js';
import type { EventStoreFactory } from './event-store-factory.js';

// Rounds of the overlapping/disjoint race, and how many appenders race in each.
const ROUNDS = 5;
// How often one decision may lose a race before the case gives up on the store making progress.
const MAX_ATTEMPTS = 500;

/** The store and its peer, when the factory makes one: the instances the race cases spread their work over. */
type Instances = () => readonly EventStore[];

/**
 * A `describe` whose cases share one store and, when the factory has `createPeer`, a peer over the same data; both are
 * closed after the cases (the peer first), also when opening the peer failed.
 */
function peerBlocks(runner: ConformanceRunner, factory: EventStoreFactory) {
  const { describe, beforeAll, afterAll } = runner;
  return (title: string, body: (instances: Instances) => void) =>
    describe(title, () => {
      const opened: EventStore[] = [];
      beforeAll(async () => {
        const first = await factory.create();
        opened.push(first);
        if (factory.createPeer) opened.push(await factory.createPeer(first));
      });
      afterAll(async () => {
        for (const store of opened.splice(0).reverse()) await store.close();
      });
      body(() => {
        assert.ok(opened.length > 0, 'the store was not created (did beforeAll run?)');
        return opened;
      });
    });
}

/** Who reads and who appends for racer `i`: all four pairings of the instances come up when there are two. */
const readerOf = (stores: readonly EventStore[], i: number) => stores[i % stores.length];
const writerOf = (stores: readonly EventStore[], i: number) => stores[Math.floor(i / 2) % stores.length];

/** Runs `decide` until its append is not refused by a conflict; resolves with what it returned. */
async function retryOnConflict<T>(decide: () => Promise<T>, what: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await decide();
    } catch (error) {
      if (!isChronicleError(error, 'CONCURRENCY_CONFLICT')) throw error;
      assert.ok(attempt < MAX_ATTEMPTS, `${what}: still conflicting after ${attempt} attempts`);
    }
  }
}

/** A racer of one round: the query its decision read, and the one event it appends if nothing matching came since. */
type Racer = { query: Query; streamId: string; event: NewEvent; set?: number };

/**
 * One round's racers. Two overlapping sets: every query of a set matches every event of that set (type T, tags t and
 * u), so once one of them is stored, the others' conditions fail. Disjoint racers: events that no other racer's query
 * matches, some under queries that share a tag or a type with a set (matching must be exact, not "shares a tag").
 */
function roundOfRacers(): Racer[] {
  const racers: Racer[] = [];
  const sets = [0, 1].map(() => ({ T: freshType('Set'), t: freshTag('t'), u: freshTag('u') }));
  for (const [k, { T, t, u }] of sets.entries()) {
    const queries: Query[] = [
      [{ tags: [t] }],
      [{ tags: [t, u] }],
      [{ types: [T] }],
      [{ types: [T], tags: [u] }],
      [{ tags: [u] }, { tags: [freshTag('none')] }],
    ];
    for (const [i, query] of queries.entries()) {
      racers.push({ query, streamId: freshStream('set'), event: ev(T, { set: k, i }, [t, u]), set: k });
    }
  }
  const D = freshType('Solo');
  const disjoint = (query: (d: string, streamId: string) => Query, tagged = true, type = D) => {
    const d = freshTag('d');
    const streamId = freshStream('solo');
    racers.push({ query: query(d, streamId), streamId, event: ev(type, { d }, tagged ? [d] : undefined) });
  };
  disjoint((d) => [{ tags: [d] }]);
  disjoint((d) => [{ tags: [sets[0].t, d] }]);
  disjoint((d) => [{ types: [sets[0].T], tags: [d] }]);
  const own = freshType('Own');
  disjoint(() => [{ types: [own] }], false, own);
  disjoint((_, streamId) => [{ tags: [streamId] }], false);
  disjoint((d) => [{ tags: [d] }, { tags: [sets[1].u, d] }, { types: [sets[1].T], tags: [d] }]);
  return racers;
}

/** Registers the race cases; `factory.createPeer`, when given, spreads them over two instances. */
export function describeRaceCases(factory: EventStoreFactory, runner: ConformanceRunner): void {
  const { it } = runner;
  const block = peerBlocks(runner, factory);

  block('append conditions under concurrency', (instances) => {
    it('an instance sees what another wrote: in read and in conditions', async () => {
      const stores = instances();
      const [first, last] = [stores[0], stores[stores.length - 1]];
      const t = freshTag();
      const T = freshType();
      const after = await first.headPosition();
      const { position } = await last.append(freshStream(), [ev(T, { n: 1 }, [t])]);
      const { events, head } = await first.read(Query.tags(t));
      assert.deepEqual(ns(events), [1]);
      assert.ok(head >= position);
      const error = await first
        .append([{ streamId: freshStream(), ...ev(T, { n: 2 }, [t]) }], {
          condition: { failIfEventsMatch: Query.tags(t), after },
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assertCode(error, 'CONCURRENCY_CONFLICT', 'a condition over an event the other instance wrote');
      assert.equal((error as { details: { position: unknown } }).details.position, position);
    });

    it(`in ${ROUNDS} rounds of 16 racing appenders (read, then append after the head read): exactly one of each overlapping set commits, every disjoint one commits`, async () => {
      const stores = instances();
      for (let round = 0; round < ROUNDS; round++) {
        const racers = roundOfRacers();
        assert.equal(racers.length, 16);
        // Every decision is taken before any append of the round: all read first, then all append at once.
        const reads = await Promise.all(racers.map((r, i) => readerOf(stores, i).read(r.query)));
        for (const [i, r] of reads.entries()) assert.deepEqual(r.events, [], `round ${round}: racer ${i} read events`);
        const settled = await Promise.allSettled(
          racers.map((r, i) =>
            APPEND_FORMS[i % APPEND_FORMS.length].write(writerOf(stores, i), [{ streamId: r.streamId, events: [r.event] }], {
              condition: { failIfEventsMatch: r.query, after: reads[i].head },
            }),
          ),
        );
        for (const set of [0, 1]) {
          const members = racers.map((r, i) => ({ r, s: settled[i], i })).filter(({ r }) => r.set === set);
          const won = members.filter(({ s }) => s.status === 'fulfilled');
          assert.equal(
            won.length,
            1,
            `round ${round}, set ${set}: ${won.length} of ${members.length} overlapping appends committed`,
          );
          const position = (won[0].s as PromiseFulfilledResult<AppendResult[]>).value[0].position;
          for (const { s, i } of members) {
            if (s.status === 'fulfilled') continue;
            assertCode(s.reason, 'CONCURRENCY_CONFLICT', `round ${round}, set ${set}, racer ${i}`);
            assert.equal(
              s.reason.details.position,
              position,
              `round ${round}, set ${set}, racer ${i}: the winner's event conflicts`,
            );
          }
          const stored = await stores[0].read(racers[won[0].i].query);
          assert.deepEqual(
            stored.events.map((e) => e.streamId),
            [racers[won[0].i].streamId],
            `round ${round}, set ${set}: only the winner's event is stored`,
          );
        }
        for (const [i, r] of racers.entries()) {
          if (r.set !== undefined) continue;
          const s = settled[i];
          if (s.status === 'rejected') {
            assert.fail(`round ${round}: disjoint racer ${i} (${JSON.stringify(r.query)}) failed: ${String(s.reason)}`);
          }
          assert.equal((await stores[0].streamInfo(r.streamId)).version, 1);
        }
      }
    });

    it('of 16 concurrent claims with no `after` (uniqueness), exactly one commits, in each of 3 rounds', async () => {
      const stores = instances();
      const Claimed = freshType('Claimed');
      for (let round = 0; round < 3; round++) {
        const email = freshTag('email');
        const unique = { failIfEventsMatch: [{ types: [Claimed], tags: [email] }] };
        const settled = await Promise.allSettled(
          range(16).map((i) =>
            APPEND_FORMS[i % APPEND_FORMS.length].write(
              writerOf(stores, i),
              [{ streamId: freshStream('user'), events: [ev(Claimed, { i }, [email])] }],
              { condition: unique },
            ),
          ),
        );
        const won = settled.filter((s): s is PromiseFulfilledResult<AppendResult[]> => s.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}: ${won.length} claims of one e-mail committed`);
        for (const s of settled) {
          if (s.status === 'rejected') {
            assertCode(s.reason, 'CONCURRENCY_CONFLICT', `round ${round}: a losing claim`);
            assert.equal(s.reason.details.position, won[0].value[0].position);
          }
        }
        assert.equal((await stores[0].read(unique.failIfEventsMatch)).events.length, 1);
      }
    });

    it('a read-decide-append counter over one tag (8 writers x 5 increments, retried on conflict) loses no update', async () => {
      const stores = instances();
      const counter = freshTag('counter');
      const Incremented = freshType('Incremented');
      const query = Query.tags(counter);
      const writers = 8;
      const increments = 5;
      await Promise.all(
        range(writers).map(async (w) => {
          // Each writer has its own stream: only the tag's condition keeps the count exact, not a stream version.
          const streamId = freshStream(`counter${w}`);
          for (let k = 0; k < increments; k++) {
            await retryOnConflict(async () => {
              const { events, head } = await readerOf(stores, w + k).read(query);
              await writerOf(stores, w + k).append([{ streamId, ...ev(Incremented, { n: events.length + 1 }, [counter]) }], {
                condition: { failIfEventsMatch: query, after: head },
              });
            }, `writer ${w}`);
          }
        }),
      );
      const { events } = await stores[0].read(query);
      assert.deepEqual(
        ns(events),
        range(writers * increments).map((i) => i + 1),
        'each increment must have seen every one before it',
      );
    });

    it('the oversell shape: stock of 10, 50 concurrent buyers, exactly 10 buy', async () => {
      const stores = instances();
      const [StockAdded, ItemSold] = [freshType('StockAdded'), freshType('ItemSold')];
      // The product's stock is an untagged event in its own stream; the sales are tagged with that stream's id.
      const product = freshStream('product');
      await stores[0].append(product, [ev(StockAdded, { quantity: 10 })]);
      const query = Query.tags(product);
      const outcomes = await Promise.all(
        range(50).map((b) =>
          retryOnConflict(async () => {
            const { events, head } = await readerOf(stores, b).read(query);
            const stock = events.reduce(
              (left, e: RecordedEvent) =>
                e.type === StockAdded ? left + (e.data as { quantity: number }).quantity : e.type === ItemSold ? left - 1 : left,
              0,
            );
            if (stock <= 0) return 'sold out';
            const order = freshStream('order');
            await writerOf(stores, b).append([{ streamId: order, ...ev(ItemSold, { b }, [product, order]) }], {
              condition: { failIfEventsMatch: query, after: head },
            });
            return 'bought';
          }, `buyer ${b}`),
        ),
      );
      assert.equal(outcomes.filter((o) => o === 'bought').length, 10, 'buyers who got an item');
      assert.equal(outcomes.filter((o) => o === 'sold out').length, 40);
      const sold = (await stores[0].read([{ types: [ItemSold], tags: [product] }])).events;
      assert.equal(sold.length, 10, 'items sold');
    });

    it('stream appends at expected versions and conditional appends (all three forms) on one stream stay exact', async () => {
      const stores = instances();
      const T = freshType('Step');
      const id = freshStream('shared');
      const query = Query.tags(id);
      const kinds = ['expected version', ...APPEND_FORMS.map((f) => f.name)];
      const writers = 8;
      const increments = 4;
      await Promise.all(
        range(writers).map(async (w) => {
          const kind = kinds[w % kinds.length];
          for (let k = 0; k < increments; k++) {
            const [reader, writer] = [readerOf(stores, w + k), writerOf(stores, w + k)];
            await retryOnConflict(async () => {
              if (kind === 'expected version') {
                const { version } = await reader.streamInfo(id);
                await writer.append(id, [ev(T, { n: version + 1, kind })], { expectedVersion: version });
                return;
              }
              const { events, head } = await reader.read(query);
              const form = APPEND_FORMS.find((f) => f.name === kind)!;
              await form.write(writer, [{ streamId: id, events: [ev(T, { n: events.length + 1, kind })] }], {
                condition: { failIfEventsMatch: query, after: head },
              });
            }, `${kind} writer ${w}`);
          }
        }),
      );
      const events = await stores[0].readStream(id);
      const total = writers * increments;
      assert.deepEqual(
        events.map((e) => e.version),
        range(total).map((i) => i + 1),
      );
      assert.deepEqual(
        ns(events),
        range(total).map((i) => i + 1),
        'each append must have seen every event of the stream before it',
      );
      assert.deepEqual(new Set(events.map((e) => (e.data as { kind: string }).kind)), new Set(kinds));
    });
  });
}
