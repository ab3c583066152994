// The key-store conformance cases of crypto-shredding: what every SubjectKeyStore must do, for an adapter to run in a
// few lines.
import assert from 'node:assert/strict';
import type { SubjectKeyStore } from 'chronicle-es';
import { type ConformanceRunner, expectCode, storeBlocks } from './conformance-kit.js';
import { freshStream } from './event-store-case-kit.js';

/** Makes the key stores under test. */
export type SubjectKeyStoreFactory = {
  create: () => SubjectKeyStore | Promise<SubjectKeyStore>;
  /**
   * True when two stores `create` makes share their keys (one database): the suite then also checks that a key is
   * durable across instances and that concurrent creators in different instances agree on one key.
   */
  shared?: boolean;
};

const hex = (key: Uint8Array) => Buffer.from(key).toString('hex');
const fresh = () => freshStream('subject');

/**
 * Registers the key-store conformance cases for one adapter: a key per subject created once, found again, gone after
 * forget (and a new one after), concurrent creators agreeing on one key, subject ids as data, bad input refused with
 * nothing created, CLOSED after close. Cases use fresh subject ids, so one shared database works.
 */
export function describeSubjectKeyStoreConformance(
  name: string,
  factory: SubjectKeyStoreFactory,
  runner: ConformanceRunner,
): void {
  const { describe, it } = runner;
  const block = storeBlocks<SubjectKeyStore>(runner, factory.create);

  describe(`subject key store conformance: ${name}`, () => {
    block('keys', (store) => {
      it('creates a 32-byte key for a new subject, and gives the same key again', async () => {
        const subject = fresh();
        const first = (await store().keysFor([subject])).get(subject);
        assert.ok(first, 'no key was created');
        assert.equal(first.key.length, 32);
        assert.equal(typeof first.id, 'string');
        assert.ok(first.id.length > 0);
        const again = (await store().keysFor([subject])).get(subject);
        assert.equal(again?.id, first.id);
        assert.equal(hex(again?.key ?? new Uint8Array()), hex(first.key));
      });

      it('gives each subject its own key, and finds only the subjects that have one', async () => {
        const [a, b, none] = [fresh(), fresh(), fresh()];
        const made = await store().keysFor([a, b, a]);
        assert.deepEqual([...made.keys()].sort(), [a, b].sort());
        assert.notEqual(made.get(a)?.id, made.get(b)?.id);
        assert.notEqual(hex(made.get(a)?.key as Uint8Array), hex(made.get(b)?.key as Uint8Array));
        const found = await store().findKeys([a, none, b]);
        assert.deepEqual([...found.keys()].sort(), [a, b].sort());
        assert.equal(found.get(a)?.id, made.get(a)?.id);
        assert.equal(hex(found.get(b)?.key as Uint8Array), hex(made.get(b)?.key as Uint8Array));
        assert.equal((await store().findKeys([none])).size, 0, 'findKeys created a key');
        assert.equal((await store().findKeys([])).size, 0);
      });

      it('forgets a key: it is no longer found, forgetting again says false, and a new key replaces it', async () => {
        const [subject, other] = [fresh(), fresh()];
        const before = (await store().keysFor([subject, other])).get(subject);
        assert.equal(await store().forget(subject), true);
        assert.equal((await store().findKeys([subject])).size, 0);
        assert.equal(await store().forget(subject), false);
        assert.equal(await store().forget(fresh()), false);
        assert.ok((await store().findKeys([other])).has(other), 'forgetting one subject took another key');
        const after = (await store().keysFor([subject])).get(subject);
        assert.ok(after && before);
        assert.notEqual(after.id, before.id);
        assert.notEqual(hex(after.key), hex(before.key));
      });

      it('a key handed out is a copy: changing it changes nothing stored', async () => {
        const subject = fresh();
        const key = (await store().keysFor([subject])).get(subject) as { key: Uint8Array };
        const original = hex(key.key);
        key.key.fill(7);
        assert.equal(hex((await store().findKeys([subject])).get(subject)?.key as Uint8Array), original);
      });

      it('treats subject ids as data', async () => {
        const odd = [`${fresh()}'; DROP TABLE x; --`, `${fresh()} "quoted" \\ ünïcødé 🙂`, `${fresh()}%_`];
        const made = await store().keysFor(odd);
        assert.equal(made.size, odd.length);
        const found = await store().findKeys(odd);
        for (const s of odd) assert.equal(found.get(s)?.id, made.get(s)?.id);
        assert.equal(await store().forget(odd[0]), true);
        assert.deepEqual([...(await store().findKeys(odd)).keys()].sort(), odd.slice(1).sort());
      });

      it('agrees on one key when many callers create it at once', async () => {
        const subject = fresh();
        const results = await Promise.all(Array.from({ length: 20 }, () => store().keysFor([subject])));
        const ids = new Set(results.map((r) => r.get(subject)?.id));
        assert.equal(ids.size, 1, `callers got ${ids.size} different keys`);
        assert.equal(new Set(results.map((r) => hex(r.get(subject)?.key as Uint8Array))).size, 1);
      });

      it('refuses malformed subject ids and creates nothing', async () => {
        const good = fresh();
        for (const bad of ['', 'a\u0000b', 'x'.repeat(513), 42, null]) {
          await expectCode(() => store().keysFor([good, bad as string]), 'INVALID_ARGUMENT', `keysFor ${String(bad)}`);
          await expectCode(() => store().findKeys([bad as string]), 'INVALID_ARGUMENT', `findKeys ${String(bad)}`);
          await expectCode(() => store().forget(bad as string), 'INVALID_ARGUMENT', `forget ${String(bad)}`);
        }
        await expectCode(() => store().keysFor('abc' as never), 'INVALID_ARGUMENT', 'keysFor a string');
        assert.equal((await store().findKeys([good])).size, 0, 'a refused call created a key');
      });
    });

    if (factory.shared) {
      block('shared between instances', (store) => {
        it('a key created by one instance is found by another, and forgotten for both', async () => {
          const other = await factory.create();
          try {
            const subject = fresh();
            const made = (await store().keysFor([subject])).get(subject);
            assert.equal((await other.findKeys([subject])).get(subject)?.id, made?.id);
            assert.equal(await other.forget(subject), true);
            assert.equal((await store().findKeys([subject])).size, 0);
          } finally {
            await other.close();
          }
        });

        it('instances creating one subject’s key at once agree on it', async () => {
          const others = await Promise.all([factory.create(), factory.create()]);
          try {
            const subject = fresh();
            const all = [store(), ...others];
            const results = await Promise.all(Array.from({ length: 12 }, (_, i) => all[i % all.length].keysFor([subject])));
            assert.equal(new Set(results.map((r) => r.get(subject)?.id)).size, 1);
          } finally {
            await Promise.all(others.map((o) => o.close()));
          }
        });
      });
    }

    it('fails with CLOSED once closed', async () => {
      const store = await factory.create();
      const subject = fresh();
      await store.keysFor([subject]);
      await store.close();
      await expectCode(() => store.keysFor([fresh()]), 'CLOSED', 'keysFor after close');
      await expectCode(() => store.findKeys([subject]), 'CLOSED', 'findKeys after close');
      await expectCode(() => store.forget(subject), 'CLOSED', 'forget after close');
    });
  });
}
