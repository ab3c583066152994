// Crypto-shredding on the in-memory store: personal fields are stored only encrypted, every read path decrypts them,
// and after forget every read (deciders, projections, a rebuild) gets placeholders while the rest keeps working.
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { z } from 'zod';
import { createCommandHandler } from '../command-handler.js';
import type { Decider } from '../decider.js';
import { isChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import { upcasters } from '../evolution/upcasters.js';
import { withUpcasting } from '../evolution/upcasting-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineEvent, type EventDefinition, type EventOf } from '../messages.js';
import { defineProjection } from '../projections/define-projection.js';
import { createInMemoryReadStore, type InMemoryReadTx } from '../projections/in-memory-read-store.js';
import { createProjector, type Projector } from '../projections/projector.js';
import { withCryptoShredding } from './crypto-shredding-store.js';
import { createInMemorySubjectKeyStore } from './in-memory-subject-key-store.js';
import { FORGOTTEN } from './personal-cipher.js';
import { personal } from './personal-fields.js';
import type { SubjectKeyStore } from './subject-key-store.js';

// #region personal-events
const address = z.object({ street: z.string(), city: z.string(), floor: z.number().optional() });
const Registered = defineEvent(
  'PersonRegistered',
  z.object({
    personId: z.string(),
    name: personal(z.string()),
    email: z.string().meta({ personal: true }),
    address: personal(address).optional(),
    plan: z.string(),
  }),
  { subject: 'personId' }, // the key is this person's: a typo here does not compile
);
const Renamed = defineEvent('PersonRenamed', z.object({ personId: z.string(), name: personal(z.string()) }), {
  subject: 'personId',
});
// #endregion personal-events

// #region with-upcasting
// Shredding inside, upcasting outside: upcasters see decrypted data (the other order is refused).
const upcastingOverShredding = (raw: EventStore, keys: SubjectKeyStore, events: EventDefinition[]) =>
  withUpcasting(withCryptoShredding(raw, { events, keys }), events);
// #endregion with-upcasting
const Upgraded = defineEvent('PersonUpgraded', z.object({ personId: z.string(), plan: z.string() }));
const catalog = [Registered, Renamed, Upgraded];

const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

let n = 0;
const fresh = () => `p${++n}x${Date.now().toString(36)}`;

// #region wiring
// Everything reads and writes through it: command and decision handlers, the projector, the process managers.
const shredded = (raw: EventStore, keys: SubjectKeyStore) => withCryptoShredding(raw, { events: catalog, keys });
// #endregion wiring

function stores() {
  const raw = createInMemoryEventStore();
  const keys = createInMemorySubjectKeyStore();
  return { raw, keys, store: shredded(raw, keys) };
}

const ada = (personId: string) => ({
  type: 'PersonRegistered' as const,
  data: {
    personId,
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    address: { street: '12 St James Square', city: 'London', floor: 3 },
    plan: 'gold',
  },
});
const PLAIN = ['Ada Lovelace', 'ada@example.com', '12 St James Square', 'London', 'Augusta Ada King'];
const leaks = (events: readonly RecordedEvent[]) => PLAIN.filter((p) => JSON.stringify(events).includes(p));

describe('withCryptoShredding', () => {
  it('stores personal fields only encrypted, and every read path gives them back decrypted', async () => {
    const { raw, store } = stores();
    const id = fresh();
    await store.append(`person-${id}`, [ada(id), { type: 'PersonUpgraded', data: { personId: id, plan: 'platinum' } }]);
    await store.append([{ streamId: `person-${id}`, type: 'PersonRenamed', data: { personId: id, name: 'Augusta Ada King' } }]);
    await store.appendMany([
      { streamId: `other-${id}`, events: [{ type: 'PersonRenamed', data: { personId: id, name: 'Ada Lovelace' } }] },
    ]);

    const stored = await raw.readAll();
    expect(leaks(stored)).toEqual([]);
    expect(stored[0].data).toMatchObject({
      personId: id,
      plan: 'gold',
      address: { street: expect.stringMatching(/^shred:v1:s:/) },
    });
    expect((stored[0].data as { address: { floor: unknown } }).address.floor).toMatch(/^shred:v1:n:\d+$/);
    expect(stored[0].metadata.personal).toMatchObject({
      v: 1,
      subject: id,
      fields: [['name'], ['email'], ['address']],
      iv: expect.any(String),
      tag: expect.any(String),
      data: expect.any(String),
    });
    expect(stored[1].metadata.personal).toBeUndefined();
    // One key per subject: every event of the person is under the same one.
    expect(new Set(stored.filter((e) => e.metadata.personal).map((e) => (e.metadata.personal as { key: string }).key)).size).toBe(
      1,
    );

    const expected = ada(id).data;
    expect((await store.readStream(`person-${id}`))[0].data).toEqual(expected);
    expect((await store.readAll())[3].data).toEqual({ personId: id, name: 'Ada Lovelace' });
    const read = await store.read([{ types: ['PersonRenamed'] }]);
    expect(read.events.map((e) => (e.data as { name: string }).name)).toEqual(['Augusta Ada King', 'Ada Lovelace']);
    const seen: RecordedEvent[] = [];
    const sub = store.subscribe({ pollIntervalMs: 5 }, (batch) => {
      seen.push(...batch);
    });
    await vi.waitFor(() => expect(seen.length).toBe(4));
    await sub.stop();
    expect(seen[0].data).toEqual(expected);
    expect(leaks(await raw.readAll())).toEqual([]);
  });

  it('after forget, reads redact the personal fields and keep the shape; other subjects and fields are untouched', async () => {
    const { raw, store } = stores();
    const [id, other] = [fresh(), fresh()];
    await store.append(`person-${id}`, [ada(id)]);
    await store.append(`person-${other}`, [ada(other)]);
    const before = JSON.stringify(await raw.readAll());
    expect(await store.forget(id)).toBe(true);
    expect(await store.forget(id)).toBe(false);
    const [forgotten] = await store.readStream(`person-${id}`);
    expect(forgotten.data).toEqual({
      personId: id,
      name: FORGOTTEN,
      email: FORGOTTEN,
      address: { street: FORGOTTEN, city: FORGOTTEN, floor: 0 },
      plan: 'gold',
    });
    expect(forgotten.metadata.personal).toMatchObject({ subject: id, forgotten: true });
    // The redacted data still satisfies the schema's types (a string is still a string).
    expect(Registered.schema.safeParse(forgotten.data).success).toBe(true);
    expect((await store.readStream(`person-${other}`))[0].data).toEqual(ada(other).data);
    // Nothing stored changed: forgetting is deleting the key.
    expect(JSON.stringify(await raw.readAll())).toBe(before);
  });

  it('a subject written again after forget gets a new key: its new events read, its old ones stay forgotten', async () => {
    const { store } = stores();
    const id = fresh();
    await store.append(`person-${id}`, [ada(id)]);
    await store.forget(id);
    await store.append(`person-${id}`, [{ type: 'PersonRenamed', data: { personId: id, name: 'Ada Again' } }]);
    const events = await store.readStream(`person-${id}`);
    expect(events.map((e) => (e.data as { name: string }).name)).toEqual([FORGOTTEN, 'Ada Again']);
  });

  it('a decider folds a forgotten person and still decides', async () => {
    const { store } = stores();
    const id = fresh();
    type State = { name?: string; plan?: string };
    const people: Decider<{ type: 'Upgrade'; data: { id: string } }, EventOf<typeof catalog>, State> = {
      initialState: {},
      evolve: (s, e) =>
        e.type === 'PersonUpgraded'
          ? { ...s, plan: e.data.plan }
          : { ...s, name: e.data.name, ...('plan' in e.data && { plan: e.data.plan }) },
      decide: (c, s) => {
        if (s.name === undefined) throw new Error('no such person');
        return [{ type: 'PersonUpgraded', data: { personId: c.data.id, plan: `${s.plan}+` } }];
      },
    };
    const handle = createCommandHandler({ store, decider: people, streamId: (c) => `person-${c.data.id}`, cacheSize: 0 });
    await store.append(`person-${id}`, [ada(id)]);
    await store.forget(id);
    await expect(handle({ type: 'Upgrade', data: { id } }, {})).resolves.toMatchObject({ version: 2 });
    expect((await store.readStream(`person-${id}`))[1].data).toEqual({ personId: id, plan: 'gold+' });
  });

  it('projections read decrypted data, and a rebuild after forget builds the read model without it', async () => {
    const { raw, store } = stores();
    const [id, other] = [fresh(), fresh()];
    await store.append(`person-${id}`, [ada(id)]);
    await store.append(`person-${other}`, [ada(other)]);
    const people = (version: number) =>
      defineProjection<InMemoryReadTx, (typeof catalog)[number]>({
        name: 'people',
        version,
        events: catalog,
        handlers: {
          PersonRegistered: (e, tx) => tx.table<string>('people').set(e.data.personId, `${e.data.name} <${e.data.email}>`),
        },
      });
    const readStore = createInMemoryReadStore();
    // The projector reads through the shredding store, so handlers see plain (or redacted) data.
    const projector = createProjector({ eventStore: store, readStore, projections: [people(1)], pollIntervalMs: 5 });
    projectors.push(projector);
    await projector.start();
    await projector.waitForPosition(2, { timeoutMs: 5000 });
    expect(readStore.reader('people').table('people').get(id)).toBe('Ada Lovelace <ada@example.com>');
    await projector.stop();
    projectors.length = 0;

    await store.forget(id);
    const rebuilt = createProjector({ eventStore: store, readStore, projections: [people(2)], pollIntervalMs: 5 });
    projectors.push(rebuilt);
    await rebuilt.start();
    await vi.waitFor(async () => expect((await rebuilt.status())[0]).toMatchObject({ state: 'live', position: 2 }));
    const table = readStore.reader('people').table('people');
    expect(table.get(id)).toBe(`${FORGOTTEN} <${FORGOTTEN}>`);
    expect(table.get(other)).toBe('Ada Lovelace <ada@example.com>');
    expect(leaks(await raw.readAll())).toEqual([]);
  });

  it('composes inside withUpcasting: upcasters see decrypted data; the other order is refused', async () => {
    const raw = createInMemoryEventStore();
    const keys = createInMemorySubjectKeyStore();
    const V1 = defineEvent('Signed', z.object({ id: z.string(), fullName: personal(z.string()) }), { subject: 'id' });
    const V2 = defineEvent('Signed', z.object({ id: z.string(), first: personal(z.string()), last: personal(z.string()) }), {
      subject: 'id',
      schemaVersion: 2,
      upcasters: upcasters<{ id: string; fullName: string }>().from(1, ({ id, fullName }) => {
        const [first, ...rest] = fullName.split(' ');
        return { id, first, last: rest.join(' ') };
      }),
    });
    // Last year's code wrote v1 through the shredding store.
    await withCryptoShredding(raw, { events: [V1], keys }).append('s-1', [
      { type: 'Signed', data: { id: 'u1', fullName: 'Grace Brewster Hopper' } },
    ]);
    const store = upcastingOverShredding(raw, keys, [V2]);
    await store.append('s-1', [{ type: 'Signed', data: { id: 'u1', first: 'Grace', last: 'Hopper' } }]);
    const read = await store.readStream('s-1');
    expect(read.map((e) => e.data)).toEqual([
      { id: 'u1', first: 'Grace', last: 'Brewster Hopper' },
      { id: 'u1', first: 'Grace', last: 'Hopper' },
    ]);
    expect(read[1].metadata.schemaVersion).toBe(2);
    expect(JSON.stringify(await raw.readAll())).not.toContain('Hopper');
    const error = (() => {
      try {
        withCryptoShredding(withUpcasting(raw, [V2]), { events: [V2], keys });
      } catch (err) {
        return err;
      }
    })();
    expect(isChronicleError(error, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('never snapshots a stream holding personal events, and ignores a snapshot found for one', async () => {
    const { raw, store } = stores();
    const [id, plain] = [fresh(), fresh()];
    await store.append(`person-${id}`, [ada(id)]);
    await store.append(`plan-${plain}`, [{ type: 'PersonUpgraded', data: { personId: plain, plan: 'x' } }]);
    const snapshot = (streamId: string) => ({
      streamId,
      name: 'state',
      version: 1,
      streamVersion: 1,
      position: 1,
      state: { name: 'Ada Lovelace' },
    });
    await store.snapshots?.saveSnapshot(snapshot(`person-${id}`));
    await store.snapshots?.saveSnapshot(snapshot(`plan-${plain}`));
    expect(await raw.snapshots?.loadSnapshot(`person-${id}`, 'state', 1)).toBeUndefined();
    expect(await raw.snapshots?.loadSnapshot(`plan-${plain}`, 'state', 1)).toMatchObject({ state: { name: 'Ada Lovelace' } });
    // One written before shredding was on (straight to the store) is not handed to a decider.
    await raw.snapshots?.saveSnapshot(snapshot(`person-${id}`));
    expect(await store.snapshots?.loadSnapshot(`person-${id}`, 'state', 1)).toBeUndefined();
    expect(await store.snapshots?.loadSnapshot(`plan-${plain}`, 'state', 1)).toBeDefined();
  });

  it('a command handler with snapshots on never saves a personal stream’s state', async () => {
    const { raw, store } = stores();
    const id = fresh();
    const saves: string[] = [];
    const inner = raw.snapshots;
    if (inner === undefined) throw new Error('the in-memory store has snapshots');
    const save = inner.saveSnapshot.bind(inner);
    inner.saveSnapshot = async (s) => {
      saves.push(s.streamId);
      return save(s);
    };
    const handle = createCommandHandler({
      store,
      decider: {
        initialState: 0,
        evolve: (s: number) => s + 1,
        decide: (c: { type: 'Touch'; data: { streamId: string; personId: string } }) => [
          { type: 'PersonUpgraded', data: { personId: c.data.personId, plan: 'p' } },
        ],
      },
      streamId: (c) => c.data.streamId,
      cacheSize: 0,
      snapshot: { every: 1, version: 1 },
    });
    await store.append(`person-${id}`, [ada(id)]);
    await handle({ type: 'Touch', data: { streamId: `person-${id}`, personId: id } }, {});
    await handle({ type: 'Touch', data: { streamId: `plan-${id}`, personId: id } }, {});
    await handle({ type: 'Touch', data: { streamId: `plan-${id}`, personId: id } }, {});
    // The plain stream's snapshot is saved out of band; by then the personal one's check has long been answered.
    await vi.waitFor(() => expect(saves).toContain(`plan-${id}`));
    expect(saves).not.toContain(`person-${id}`);
  });

  it('refuses an event whose subject field is not a subject id, and writes nothing', async () => {
    const { raw, store } = stores();
    for (const personId of ['', 42, undefined]) {
      const error = await store
        .append('person-bad', [{ type: 'PersonRenamed', data: { personId, name: 'Ada Lovelace' } }])
        .catch((err: unknown) => err);
      expect(isChronicleError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(await raw.readAll()).toEqual([]);
  });

  it('fails a read with STORE_ERROR when a stored field was altered', async () => {
    const raw = createInMemoryEventStore();
    const keys = createInMemorySubjectKeyStore();
    const store = withCryptoShredding(raw, { events: catalog, keys });
    const [event] = await store
      .append('person-t', [{ type: 'PersonRenamed', data: { personId: 't', name: 'Ada' } }])
      .then(() => raw.readAll());
    const personal = event.metadata.personal as { data: string };
    const flipped = personal.data.slice(0, -2) + (personal.data.endsWith('AA') ? 'BB' : 'AA');
    await raw.append('person-t2', [
      { type: 'PersonRenamed', data: event.data, metadata: { ...event.metadata, personal: { ...personal, data: flipped } } },
    ]);
    const error = await store.readStream('person-t2').catch((err: unknown) => err);
    expect(isChronicleError(error, 'STORE_ERROR')).toBe(true);
  });

  it('forwards every other method of the store, including optional ones and ones beyond the port', async () => {
    const raw = Object.assign(createInMemoryEventStore(), {
      stalledBy: async () => ({ backend: '42', since: 'then', openMs: 1 }),
      stats: () => 'own',
    });
    const store = withCryptoShredding(raw, { events: catalog, keys: createInMemorySubjectKeyStore() });
    expect(store.stats()).toBe('own');
    expect(await store.stalledBy?.(1)).toEqual({ backend: '42', since: 'then', openMs: 1 });
    await store.append('s-1', [{ type: 'PersonUpgraded', data: { personId: 'a', plan: 'b' } }]);
    expect(await store.headPosition()).toBe(1);
    expect((await store.streamInfo('s-1')).version).toBe(1);
  });

  it('defineEvent checks the subject: required with personal fields, never personal itself, typed', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isChronicleError(err, 'INVALID_ARGUMENT');
      }
      return false;
    };
    expect(bad(() => defineEvent('NoSubject', z.object({ id: z.string(), name: personal(z.string()) })))).toBe(true);
    expect(bad(() => defineEvent('OwnSubject', z.object({ id: personal(z.string()) }), { subject: 'id' }))).toBe(true);
    expect(bad(() => defineEvent('NoPersonal', z.object({ id: z.string() }), { subject: 'id' }))).toBe(true);
    expect(Registered.personal).toEqual({ subject: 'personId', fields: [['name'], ['email'], ['address']] });
    // @ts-expect-error not a field of the schema
    defineEvent('Typo', z.object({ personId: z.string(), name: personal(z.string()) }), { subject: 'personID' });
    // @ts-expect-error a subject must be a string field
    defineEvent('NotString', z.object({ n: z.number(), name: personal(z.string()) }), { subject: 'n' });
    expectTypeOf(Registered.personal).toEqualTypeOf<
      { readonly subject: string; readonly fields: readonly (readonly string[])[] } | undefined
    >();
  });
});

// Keeps the helper types honest: the store given is the store returned, plus forget.
const _typed = (s: EventStore) => withCryptoShredding(s, { events: [], keys: createInMemorySubjectKeyStore() }).forget('x');
void _typed;
