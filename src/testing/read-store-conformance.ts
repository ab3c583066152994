// The read-store conformance suite: the ProjectionStore contract every read store must keep, runner-agnostic.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Fence, ProjectionFailure, ProjectionStore } from 'chronicle-es';
import { assertCode, type ConformanceRunner, expectCode, sleep, storeBlocks } from './conformance-kit.js';

/**
 * How the suite reaches one store's tables: a logical table holds rows of a text key and an integer value, created,
 * written and read through that store's own Tx and Reader. Every call may return a promise.
 */
export type ReadStoreFactory<Tx, Reader> = {
  /** Opens a store; called once per block, and the suite closes what it gets. Cases use fresh projection names. */
  create: () => ProjectionStore<Tx, Reader> | Promise<ProjectionStore<Tx, Reader>>;
  /**
   * Opens a second store on the same storage as `store`, with its own connections, as another process would: the
   * cases where two stores race run only when this is given.
   */
  share?: (store: ProjectionStore<Tx, Reader>) => ProjectionStore<Tx, Reader> | Promise<ProjectionStore<Tx, Reader>>;
  /** Whether the store keeps leases (`store.leases`): the lease and fencing cases run only then. Checked against the store. */
  leases?: boolean;
  /** Whether the store keeps control requests (`store.control`): the control cases run only then. Checked against the store. */
  control?: boolean;
  /** Creates logical table `table` (key text primary key, value integer) in the generation `tx` writes. */
  createTable: (tx: Tx, table: string) => unknown;
  /** Sets the value of `key` in `table`, inserting the row if it is missing. */
  write: (tx: Tx, table: string, key: string, value: number) => unknown;
  /** Every row of `table` in the served generation, as key → value. */
  read: (reader: Reader, table: string) => Record<string, number> | Promise<Record<string, number>>;
};

// How long a short lease lasts in the lease cases, and how long the suite waits to be sure it has expired.
const TTL_MS = 300;
const EXPIRED_MS = TTL_MS + 200;

/** A projection name no other case (or earlier run on the same storage) has used. */
const freshName = (label = 'conf') => `${label}${randomUUID().replaceAll('-', '').slice(0, 16)}`;

/** A record as data: a key set to undefined (as a store may leave a cleared field) counts as absent. */
const plain = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/** Runs `steps` one after another, waiting only for those that return a promise. */
function inOrder(steps: readonly (() => unknown)[], from = 0): void | Promise<void> {
  for (let i = from; i < steps.length; i++) {
    const result = steps[i]();
    if (isThenable(result)) return Promise.resolve(result).then(() => inOrder(steps, i + 1));
  }
}

/** A gate a paused `work` waits on. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/**
 * Registers the read-store conformance cases for one store (`name` titles them) with the given test runner, in the
 * same argument order as describeEventStoreConformance. Each block opens a store
 * through `factory` and closes it afterwards; cases use fresh projection names, so one shared database works.
 * Concurrency cases run when `factory.share` is given, lease and fencing cases when `factory.leases` says the store
 * has them.
 */
export function describeReadStoreConformance<Tx, Reader>(
  name: string,
  factory: ReadStoreFactory<Tx, Reader>,
  runner: ConformanceRunner,
): void {
  const { describe, it, beforeAll, afterAll } = runner;
  type Store = ProjectionStore<Tx, Reader>;
  const block = storeBlocks<Store>(runner, factory.create);

  const rows = async (store: Store, name: string, table = 'rows') => factory.read(store.reader(name), table);
  // Work and setup stay synchronous when the store's calls are: a synchronous store (SQLite) then commits without
  // yielding, as its handlers do, and two such stores in one process never wait on each other's open transaction.
  const writer =
    (entries: Record<string, number>, table = 'rows') =>
    (tx: Tx) =>
      inOrder(
        Object.entries(entries).map(
          ([key, value]) =>
            () =>
              factory.write(tx, table, key, value),
        ),
      );
  const setup = (tx: Tx) => factory.createTable(tx, 'rows');

  /** A projection with an active generation (and its table) at checkpoint 0. */
  async function active(store: Store, fence?: Fence): Promise<{ name: string; generation: number }> {
    const name = freshName();
    const generation = await store.beginGeneration(name, 1, setup, fence);
    await store.swapGeneration(name, generation, 0, fence);
    return { name, generation };
  }

  const failureAt = (position: number): ProjectionFailure => ({
    message: `cannot apply ${position}`,
    code: 'STORE_ERROR',
    eventId: `event-${position}`,
    position,
    type: 'Happened',
    at: new Date().toISOString(),
  });

  describe(`read store conformance: ${name}`, () => {
    block('records and generations', (store) => {
      it(`${factory.leases ? 'has' : 'has no'} leases, as the factory says`, async () => {
        assert.equal(store().leases !== undefined, factory.leases === true);
      });

      it(`${factory.control ? 'keeps' : 'keeps no'} control requests, as the factory says`, async () => {
        assert.equal(store().control !== undefined, factory.control === true);
      });

      it('knows nothing of a projection that never ran, and has no tables to read for it', async () => {
        const s = store();
        const name = freshName();
        assert.equal(await s.load(name), undefined);
        assert.ok(!(await s.list()).some((r) => r.name === name), 'list() names a projection that never ran');
        await expectCode(() => rows(s, name), 'NOT_FOUND', 'reading a projection without tables');
      });

      it('beginGeneration allocates a rebuild at checkpoint 0 with its tables; swapGeneration makes it the served one', async () => {
        const s = store();
        const name = freshName();
        const generation = await s.beginGeneration(name, 3, setup);
        assert.ok(Number.isSafeInteger(generation) && generation > 0, `generation ${generation}`);
        assert.deepEqual(plain(await s.load(name)), {
          name,
          version: 0,
          generation: 0,
          position: 0,
          rebuild: { generation, version: 3, position: 0 },
        });
        await s.apply(name, generation, writer({ a: 1 }), 7, 0);
        assert.deepEqual(plain((await s.load(name))?.rebuild), { generation, version: 3, position: 7 });
        await s.swapGeneration(name, generation, 0);
        assert.deepEqual(plain(await s.load(name)), { name, version: 3, generation, position: 7 });
        assert.deepEqual(await rows(s, name), { a: 1 });
        const listed = (await s.list()).find((r) => r.name === name);
        assert.deepEqual(plain(listed), { name, version: 3, generation, position: 7 });
      });

      it('awaits an async setup inside the generation, and a failing setup leaves no generation behind', async () => {
        const s = store();
        const name = freshName();
        const generation = await s.beginGeneration(name, 1, async (tx) => {
          await factory.createTable(tx, 'rows');
          await sleep(5);
          await factory.write(tx, 'rows', 'seeded', 1);
        });
        await s.swapGeneration(name, generation, 0);
        assert.deepEqual(await rows(s, name), { seeded: 1 });

        const other = freshName();
        const boom = new Error('setup failed');
        await assert.rejects(
          s.beginGeneration(other, 1, async (tx) => {
            await factory.createTable(tx, 'rows');
            await sleep(1);
            throw boom;
          }),
          (err) => err === boom,
        );
        assert.equal(await s.load(other), undefined, 'a failed setup left a record');
      });

      it('a new beginGeneration replaces an unfinished rebuild, whose generation is then not writable', async () => {
        const s = store();
        const { name, generation: g1 } = await active(s);
        const g2 = await s.beginGeneration(name, 2, setup);
        const g3 = await s.beginGeneration(name, 2, setup);
        assert.ok(g1 < g2 && g2 < g3, `generations ${g1}, ${g2}, ${g3} must increase`);
        assert.deepEqual(plain((await s.load(name))?.rebuild), { generation: g3, version: 2, position: 0 });
        await expectCode(() => s.apply(name, g2, undefined, 1, 0), 'CONCURRENCY_CONFLICT', 'applying to a replaced rebuild');
        await expectCode(() => s.swapGeneration(name, g2, g1), 'CONCURRENCY_CONFLICT', 'swapping a replaced rebuild in');
        await s.apply(name, g3, undefined, 0, 0);
        await s.swapGeneration(name, g3, g1);
        assert.equal((await s.load(name))?.generation, g3);
      });

      it('swapGeneration refuses a generation that is not the rebuild, an unexpected active one, or moving back', async () => {
        const s = store();
        const { name, generation: g1 } = await active(s);
        await s.apply(name, g1, writer({ old: 1 }), 5, 0);
        await expectCode(() => s.swapGeneration(name, g1 + 100, g1), 'CONCURRENCY_CONFLICT', 'a generation never begun');
        const g2 = await s.beginGeneration(name, 1, setup);
        await s.apply(name, g2, writer({ new: 2 }), 3, 0);
        await expectCode(() => s.swapGeneration(name, g2, 0), 'CONCURRENCY_CONFLICT', 'replacing 0 while g1 is active');
        const back = await expectCode(() => s.swapGeneration(name, g2, g1), 'CONCURRENCY_CONFLICT', 'moving served data back');
        assert.deepEqual(
          [
            (back as { details?: Record<string, unknown> }).details?.active,
            (back as { details?: Record<string, unknown> }).details?.rebuild,
          ],
          [5, 3],
        );
        assert.deepEqual(await rows(s, name), { old: 1 }, 'a refused swap changed what is served');
        await s.apply(name, g2, undefined, 5, 3);
        await s.setFailure(name, failureAt(6));
        await s.swapGeneration(name, g2, g1);
        assert.deepEqual(
          plain(await s.load(name)),
          { name, version: 1, generation: g2, position: 5 },
          'the swap must clear the failure',
        );
        assert.deepEqual(await rows(s, name), { new: 2 });
        await expectCode(
          () => s.apply(name, g1, undefined, 6, 5),
          'CONCURRENCY_CONFLICT',
          'applying to the swapped-out generation',
        );
      });
    });

    block('apply', (store) => {
      it('commits the work and the checkpoint together', async () => {
        const s = store();
        const { name, generation } = await active(s);
        await s.apply(name, generation, writer({ a: 1, b: 2 }), 10, 0);
        await s.apply(name, generation, writer({ a: 3 }), 12, 10);
        assert.deepEqual(await rows(s, name), { a: 3, b: 2 });
        assert.equal((await s.load(name))?.position, 12);
        await s.apply(name, generation, undefined, 15, 12);
        assert.equal((await s.load(name))?.position, 15, 'a batch with no work still moves the checkpoint');
      });

      it('rolls everything back when the work throws, and rethrows the very error', async () => {
        const s = store();
        const { name, generation } = await active(s);
        await s.apply(name, generation, writer({ kept: 1 }), 1, 0);
        const boom = new Error('boom');
        await assert.rejects(
          s.apply(
            name,
            generation,
            async (tx) => {
              await factory.write(tx, 'rows', 'lost', 1);
              throw boom;
            },
            2,
            1,
          ),
          (err) => err === boom,
        );
        await assert.rejects(
          s.apply(
            name,
            generation,
            async (tx) => {
              await factory.write(tx, 'rows', 'lost', 1);
              await sleep(5);
              await factory.write(tx, 'rows', 'lost2', 1);
              throw boom;
            },
            2,
            1,
          ),
          (err) => err === boom,
        );
        assert.deepEqual(await rows(s, name), { kept: 1 });
        assert.equal((await s.load(name))?.position, 1);
      });

      it('holds the transaction across awaits in the work', async () => {
        const s = store();
        const { name, generation } = await active(s);
        await s.apply(
          name,
          generation,
          async (tx) => {
            for (let i = 0; i < 5; i++) {
              await factory.write(tx, 'rows', `k${i}`, i);
              await sleep(1);
            }
          },
          5,
          0,
        );
        assert.deepEqual(await rows(s, name), { k0: 0, k1: 1, k2: 2, k3: 3, k4: 4 });
      });

      it('sets the checkpoint only where the batch starts: otherwise CONCURRENCY_CONFLICT and nothing written', async () => {
        const s = store();
        const { name, generation } = await active(s);
        await s.apply(name, generation, writer({ a: 1 }), 5, 0);
        const conflict = await expectCode(
          () => s.apply(name, generation, writer({ b: 1 }), 9, 0),
          'CONCURRENCY_CONFLICT',
          'a batch after a stale checkpoint',
        );
        const details = (conflict as { details?: Record<string, unknown> }).details;
        assert.deepEqual([details?.expected, details?.actual], [0, 5]);
        await expectCode(() => s.apply(name, generation, undefined, 4, 5), 'INVALID_ARGUMENT', 'a checkpoint before after');
        await expectCode(() => s.apply(name, generation + 50, undefined, 6, 5), 'CONCURRENCY_CONFLICT', 'an unknown generation');
        await expectCode(() => s.apply(freshName(), 1, undefined, 6, 5), 'CONCURRENCY_CONFLICT', 'an unknown projection');
        assert.deepEqual(await rows(s, name), { a: 1 });
        assert.equal((await s.load(name))?.position, 5);
        await s.apply(name, generation, writer({ c: 1 }), 8, undefined);
        assert.equal((await s.load(name))?.position, 8, 'after undefined sets the checkpoint unconditionally');
      });

      it('writes a rebuild generation apart from the served one', async () => {
        const s = store();
        const { name, generation: g1 } = await active(s);
        await s.apply(name, g1, writer({ served: 1 }), 4, 0);
        const g2 = await s.beginGeneration(name, 1, setup);
        await s.apply(name, g2, writer({ rebuilt: 1 }), 2, 0);
        assert.deepEqual(plain(await s.load(name)), {
          name,
          version: 1,
          generation: g1,
          position: 4,
          rebuild: { generation: g2, version: 1, position: 2 },
        });
        assert.deepEqual(await rows(s, name), { served: 1 });
      });

      it('two batches from one checkpoint at once: exactly one commits', async () => {
        const s = store();
        const { name, generation } = await active(s);
        const slow = (key: string) => async (tx: Tx) => {
          await sleep(5);
          await factory.write(tx, 'rows', key, 1);
        };
        const settled = await Promise.allSettled([
          s.apply(name, generation, slow('x'), 3, 0),
          s.apply(name, generation, slow('y'), 3, 0),
        ]);
        assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one batch commits');
        for (const r of settled) if (r.status === 'rejected') assertCode(r.reason, 'CONCURRENCY_CONFLICT', 'the losing batch');
        assert.equal(Object.keys(await rows(s, name)).length, 1, 'the losing batch wrote rows');
      });
    });

    block('failures and skips', (store) => {
      it('records and clears a failure, also for a projection without tables', async () => {
        const s = store();
        const { name } = await active(s);
        const failure = failureAt(3);
        await s.setFailure(name, failure);
        assert.deepEqual((await s.load(name))?.failure, failure);
        await s.setFailure(name, undefined);
        assert.equal((await s.load(name))?.failure, undefined);
        const early = freshName();
        await s.setFailure(early, { message: 'could not start', at: failure.at });
        assert.deepEqual(plain(await s.load(early)), {
          name: early,
          version: 0,
          generation: 0,
          position: 0,
          failure: { message: 'could not start', at: failure.at },
        });
      });

      it('skip moves the checkpoint past the failed event only, records it and clears the failure', async () => {
        const s = store();
        const { name, generation } = await active(s);
        const [f4, f5, f7, f9] = [4, 5, 7, 9].map(failureAt);
        await s.apply(name, generation, undefined, 4, 0);
        await s.setFailure(name, f5);
        await expectCode(() => s.skip(name, generation, { message: 'x', at: f5.at }), 'INVALID_ARGUMENT', 'no event');
        await expectCode(() => s.skip(name, generation, f4), 'CONCURRENCY_CONFLICT', 'an event before it');
        await expectCode(() => s.skip(name, generation, f7), 'CONCURRENCY_CONFLICT', 'an event past the next');
        await s.skip(name, generation, f5);
        await s.apply(name, generation, undefined, 8, 5);
        await s.skip(name, generation, f9);
        const record = await s.load(name);
        assert.equal(record?.position, 9);
        assert.equal(record?.failure, undefined);
        const skipped = await s.skipped(name);
        const fields = ({ message, eventId, position, type, at }: ProjectionFailure) => ({
          message,
          eventId,
          position,
          type,
          at,
        });
        assert.deepEqual(skipped.map(fields), [f5, f9].map(fields));
        for (const e of skipped) assert.ok(!Number.isNaN(Date.parse(e.skippedAt)), `skippedAt ${e.skippedAt}`);
        assert.deepEqual(await s.skipped(freshName()), []);
      });
    });

    describe('closing', () => {
      it('refuses work once closed', async () => {
        const s = await factory.create();
        const { name, generation } = await active(s);
        await s.close();
        await expectCode(() => s.load(name), 'CLOSED', 'load after close');
        await expectCode(() => s.apply(name, generation, undefined, 1, 0), 'CLOSED', 'apply after close');
        await s.close();
      });
    });

    if (factory.share) {
      const share = factory.share;
      describe('two stores on the same storage', () => {
        let one: Store | undefined;
        let two: Store | undefined;
        beforeAll(async () => {
          one = await factory.create();
          two = await share(one);
        });
        afterAll(async () => {
          await two?.close();
          await one?.close();
        });

        it('of two stores applying the same batch at once, exactly one commits; the other gets CONCURRENCY_CONFLICT', async () => {
          const { name, generation } = await active(one!);
          let at = 0;
          for (let round = 0; round < 10; round++) {
            const write = (key: string) => (tx: Tx) => inOrder([() => factory.write(tx, 'rows', key, round)]);
            const settled = await Promise.allSettled([
              one!.apply(name, generation, write(`one${round}`), at + 10, at),
              two!.apply(name, generation, write(`two${round}`), at + 10, at),
            ]);
            assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one commit`);
            for (const r of settled) if (r.status === 'rejected') assertCode(r.reason, 'CONCURRENCY_CONFLICT', 'the loser');
            at += 10;
          }
          const written = Object.keys(await rows(two!, name));
          assert.equal(written.length, 10, `rows ${written.join(', ')}: each round must write once`);
          assert.equal((await one!.load(name))?.position, 100);
        });

        it("serves the generation the other store swapped in, and sees the other's checkpoints", async () => {
          const { name, generation: g1 } = await active(one!);
          await one!.apply(name, g1, writer({ first: 1 }), 1, 0);
          assert.deepEqual(await rows(one!, name), { first: 1 });
          const g2 = await two!.beginGeneration(name, 2, setup);
          await two!.apply(name, g2, writer({ second: 2 }), 1, 0);
          await two!.swapGeneration(name, g2, g1);
          assert.deepEqual(await rows(one!, name), { second: 2 });
          assert.deepEqual(plain(await one!.load(name)), { name, version: 2, generation: g2, position: 1 });
        });

        it('concurrent beginGeneration calls get distinct generations', async () => {
          const name = freshName();
          const generations = await Promise.all([
            one!.beginGeneration(name, 1, setup),
            two!.beginGeneration(name, 1, setup),
            one!.beginGeneration(name, 1, setup),
            two!.beginGeneration(name, 1, setup),
          ]);
          assert.equal(new Set(generations).size, 4, `generations ${generations.join(', ')}`);
          assert.equal((await one!.load(name))?.rebuild?.generation, Math.max(...generations));
        });
      });
    }

    if (factory.control) {
      block('control requests', (store) => {
        const control = () => {
          const c = store().control;
          assert.ok(c, 'the store keeps no control requests');
          return c;
        };

        it('records a pending request that get and pending return, until it is taken once', async () => {
          const projection = freshName();
          const made = await control().request(projection, 'rebuild', 30_000);
          assert.equal(made.state, 'pending');
          assert.equal(made.projection, projection);
          assert.equal(made.action, 'rebuild');
          assert.ok(Date.parse(made.expiresAt) > Date.parse(made.requestedAt), 'expiresAt is after requestedAt');
          assert.deepEqual(plain(await control().get(made.id)), plain(made));
          assert.ok(
            (await control().pending()).some((r) => r.id === made.id),
            'pending() lists it',
          );
          assert.equal(await control().take(made.id, 'worker-a'), true);
          assert.equal(await control().take(made.id, 'worker-b'), false, 'a taken request is taken once');
          const taken = await control().get(made.id);
          assert.equal(taken?.state, 'taken');
          assert.equal(taken?.takenBy, 'worker-a');
          assert.ok(!(await control().pending()).some((r) => r.id === made.id), 'a taken request is not pending');
          assert.equal(await control().cancel(made.id), false, 'a taken request cannot be withdrawn');
        });

        it('settles a taken request as done, or failed with its error', async () => {
          const ok = await control().request(freshName(), 'retry', 30_000);
          const bad = await control().request(freshName(), 'skip', 30_000);
          await control().take(ok.id, 'w');
          await control().take(bad.id, 'w');
          await control().finish(ok.id);
          await control().finish(bad.id, { code: 'INVALID_ARGUMENT', message: 'not failed on an event' });
          assert.equal((await control().get(ok.id))?.state, 'done');
          const failed = await control().get(bad.id);
          assert.equal(failed?.state, 'failed');
          assert.deepEqual(failed?.error, { code: 'INVALID_ARGUMENT', message: 'not failed on an event' });
        });

        it('lists pending requests oldest first, and a withdrawn one is never taken', async () => {
          const projection = freshName();
          const first = await control().request(projection, 'rebuild', 30_000);
          await sleep(5);
          const second = await control().request(projection, 'retry', 30_000);
          const ids = (await control().pending()).map((r) => r.id).filter((id) => id === first.id || id === second.id);
          assert.deepEqual(ids, [first.id, second.id]);
          assert.equal(await control().cancel(first.id), true);
          assert.equal((await control().get(first.id))?.state, 'cancelled');
          assert.equal(await control().take(first.id, 'w'), false, 'a cancelled request is not taken');
        });

        it('lets a request expire untaken', async () => {
          const made = await control().request(freshName(), 'rebuild', 50);
          await sleep(150);
          assert.ok(!(await control().pending()).some((r) => r.id === made.id), 'an expired request is not pending');
          assert.equal(await control().take(made.id, 'w'), false, 'an expired request is not taken');
        });

        it('refuses a bad action or ttl, and knows no unknown id', async () => {
          await expectCode(() => control().request(freshName(), 'drop' as 'rebuild', 1000), 'INVALID_ARGUMENT', 'a bad action');
          await expectCode(() => control().request(freshName(), 'rebuild', 0), 'INVALID_ARGUMENT', 'a ttl of 0');
          assert.equal(await control().get('00000000-0000-4000-8000-000000000000'), undefined);
          assert.equal(await control().take('00000000-0000-4000-8000-000000000000', 'w'), false);
        });

        if (factory.share) {
          it('gives a request to exactly one of two stores taking it at once', async () => {
            const other = await factory.share!(store());
            try {
              const made = await control().request(freshName(), 'rebuild', 30_000);
              const wins = await Promise.all([
                control().take(made.id, 'a'),
                other.control!.take(made.id, 'b'),
                control().take(made.id, 'c'),
                other.control!.take(made.id, 'd'),
              ]);
              assert.equal(wins.filter(Boolean).length, 1, `takes: ${wins.join(', ')}`);
            } finally {
              await other.close();
            }
          });
        }
      });
    }

    if (factory.leases) {
      block('leases', (store) => {
        const leases = () => {
          const l = store().leases;
          assert.ok(l, 'the store has no leases');
          return l;
        };
        const holds = async (projection: string, worker: string) => {
          const lease = await leases().acquire(projection, worker, 30_000);
          assert.ok(lease, `${worker} could not take ${projection}`);
          return { owner: lease.owner, token: lease.token };
        };

        it('heartbeat lists the workers alive, itself included', async () => {
          const [a, b] = [freshName('worker'), freshName('worker')];
          const first = await leases().heartbeat(a, TTL_MS);
          assert.ok(first.some((w) => w.id === a));
          const both = await leases().heartbeat(b, 30_000);
          assert.ok(
            [a, b].every((id) => both.some((w) => w.id === id)),
            'both workers are alive',
          );
          const mine = both.find((w) => w.id === b)!;
          assert.ok(Date.parse(mine.expiresAt) > Date.parse(mine.lastSeen), 'expiresAt after lastSeen');
          await sleep(EXPIRED_MS);
          const later = await leases().heartbeat(b, 30_000);
          assert.ok(!later.some((w) => w.id === a), 'a worker that stopped beating is still listed');
        });

        it('acquire takes a free lease, renews it for its holder with the same token, refuses it to others', async () => {
          const projection = freshName();
          const [a, b] = [freshName('worker'), freshName('worker')];
          const first = await leases().acquire(projection, a, TTL_MS);
          assert.ok(first, 'a free lease is taken');
          assert.equal(first.owner, a);
          assert.equal(first.projection, projection);
          assert.equal(await leases().acquire(projection, b, TTL_MS), undefined, 'a held lease is refused to another');
          await sleep(20);
          const renewed = await leases().acquire(projection, a, 30_000);
          assert.equal(renewed?.token, first.token, 'renewal keeps the token');
          assert.ok(Date.parse(renewed!.expiresAt) > Date.parse(first.expiresAt), 'renewal extends the lease');
          assert.deepEqual(
            (await leases().list()).find((l) => l.projection === projection),
            renewed,
          );
        });

        it('an expired lease passes to another worker with a higher token; a released one at once', async () => {
          const projection = freshName();
          const [a, b] = [freshName('worker'), freshName('worker')];
          const first = (await leases().acquire(projection, a, TTL_MS))!;
          await sleep(EXPIRED_MS);
          const taken = await leases().acquire(projection, b, 30_000);
          assert.equal(taken?.owner, b, 'an expired lease is taken over');
          assert.ok(taken!.token > first.token, 'a takeover raises the token');
          assert.equal(await leases().acquire(projection, a, TTL_MS), undefined, 'the old holder cannot renew');

          await leases().release(projection, { owner: a, token: first.token });
          assert.equal(
            (await leases().list()).find((l) => l.projection === projection)?.owner,
            b,
            'a stale release did something',
          );
          await leases().release(projection, { owner: b, token: taken!.token });
          const back = await leases().acquire(projection, a, 30_000);
          assert.ok(back && back.token > taken!.token, 'a released lease passes on at once, with a higher token');
          await leases().release(projection, { owner: a, token: back.token });
          const again = await leases().acquire(projection, a, 30_000);
          assert.ok(again && again.token > back.token, 'taking a lease back after releasing it raises the token');
        });

        it('refuses every fenced write under a lease that passed on (LEASE_LOST), writing nothing', async () => {
          const s = store();
          const name = freshName();
          const a = freshName('worker');
          const b = freshName('worker');
          const lease = await leases().acquire(name, a, TTL_MS);
          const fenceA = { owner: a, token: lease!.token };
          const generation = await s.beginGeneration(name, 1, setup, fenceA);
          await s.swapGeneration(name, generation, 0, fenceA);
          await s.apply(name, generation, writer({ a: 1 }), 3, 0, fenceA);
          await sleep(EXPIRED_MS);
          const fenceB = await holds(name, b);

          await expectCode(() => s.apply(name, generation, writer({ stale: 1 }), 6, 3, fenceA), 'LEASE_LOST', 'apply');
          await expectCode(() => s.beginGeneration(name, 2, setup, fenceA), 'LEASE_LOST', 'beginGeneration');
          await expectCode(() => s.setFailure(name, failureAt(4), fenceA), 'LEASE_LOST', 'setFailure');
          await expectCode(() => s.skip(name, generation, failureAt(4), fenceA), 'LEASE_LOST', 'skip');
          const g2 = await s.beginGeneration(name, 2, setup, fenceB);
          await s.apply(name, g2, undefined, 3, 0, fenceB);
          await expectCode(() => s.swapGeneration(name, g2, generation, fenceA), 'LEASE_LOST', 'swapGeneration');
          assert.deepEqual(plain(await s.load(name)), {
            name,
            version: 1,
            generation,
            position: 3,
            rebuild: { generation: g2, version: 2, position: 3 },
          });
          assert.deepEqual(await rows(s, name), { a: 1 });
          await expectCode(
            () => s.apply(name, generation, undefined, 6, 3, { owner: a, token: fenceB.token }),
            'LEASE_LOST',
            'own token',
          );
          await s.apply(name, generation, writer({ b: 2 }), 6, 3, fenceB);
          assert.deepEqual(await rows(s, name), { a: 1, b: 2 });
          await expectCode(
            () => s.apply(freshName(), 1, undefined, 1, 0, fenceB),
            'LEASE_LOST',
            'a fence on a projection without a lease',
          );
          await leases().release(name, fenceB);
          await expectCode(() => s.apply(name, generation, undefined, 7, 6, fenceB), 'LEASE_LOST', 'apply after release');
        });

        it('refuses the commit of a batch in flight when its lease passes on meanwhile', async () => {
          const s = store();
          const name = freshName();
          const [a, b] = [freshName('worker'), freshName('worker')];
          const fenceA = await holds(name, a);
          const generation = await s.beginGeneration(name, 1, setup, fenceA);
          await s.swapGeneration(name, generation, 0, fenceA);
          await leases().acquire(name, a, TTL_MS);
          const paused = gate();
          const entered = gate();
          const inFlight = s.apply(
            name,
            generation,
            async (tx) => {
              await factory.write(tx, 'rows', 'fromA', 1);
              entered.open();
              await paused.opened;
              await factory.write(tx, 'rows', 'fromA2', 1);
            },
            5,
            0,
            fenceA,
          );
          inFlight.catch(() => {});
          await entered.opened;
          await sleep(EXPIRED_MS);
          const fenceB = await holds(name, b);
          paused.open();
          await expectCode(() => inFlight, 'LEASE_LOST', 'the paused batch');
          assert.deepEqual(await rows(s, name), {});
          assert.equal((await s.load(name))?.position, 0);
          await s.apply(name, generation, writer({ fromB: 1 }), 5, 0, fenceB);
          assert.deepEqual(await rows(s, name), { fromB: 1 });
        });
      });
    }
  });
}
