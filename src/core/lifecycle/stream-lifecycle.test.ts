// The lifecycle's types are its API: what each operation takes and answers is known to the compiler, and wrong uses
// do not compile. The behaviour is the conformance suite's (src/testing/event-store-lifecycle-cases.ts).
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RecordedEvent } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import type { StreamLifecycle, StreamLifecycleState } from './stream-lifecycle.js';
import { retainedRead } from './stream-retention.js';

describe('stream lifecycle types', () => {
  it('are known to the compiler, and wrong uses do not compile', async () => {
    const store = createInMemoryEventStore();
    // Every store of ours has one: no optional chaining needed.
    expectTypeOf(store.lifecycle).toEqualTypeOf<StreamLifecycle>();
    await store.append('acct-1', [
      { type: 'A', data: {} },
      { type: 'A', data: {} },
    ]);
    const life = store.lifecycle;
    expectTypeOf(life.truncate).returns.resolves.toEqualTypeOf<{ removed: number }>();
    expectTypeOf(life.archive).returns.resolves.toEqualTypeOf<{ archived: number }>();
    expectTypeOf(life.readArchived).returns.resolves.toEqualTypeOf<RecordedEvent[]>();
    expectTypeOf<Awaited<ReturnType<StreamLifecycle['status']>>['state']>().toEqualTypeOf<StreamLifecycleState>();
    expectTypeOf<StreamLifecycleState>().toEqualTypeOf<'live' | 'deleted' | 'archived' | 'tombstoned'>();

    const refused = async (call: () => Promise<unknown>) =>
      (await call().catch((e: { code?: string }) => e)) as { code?: string };
    // @ts-expect-error truncate needs { before }
    expect((await refused(() => life.truncate('acct-1', {}))).code).toBe('INVALID_ARGUMENT');
    // @ts-expect-error before is a number
    expect((await refused(() => life.truncate('acct-1', { before: '2' }))).code).toBe('INVALID_ARGUMENT');
    // @ts-expect-error an expected version is a number, 'no_stream', 'exists' or 'any'
    expect((await refused(() => life.tombstone('acct-1', { expectedVersion: 'latest' }))).code).toBe('INVALID_ARGUMENT');
    // @ts-expect-error the stream id is a string
    expect((await refused(() => life.archive(42))).code).toBe('INVALID_ARGUMENT');
    expect((await store.readStream('acct-1')).length).toBe(2);
  });

  it('max-count and max-age pick the events a read returns, in either direction', () => {
    const at = (version: number, ageSeconds: number): RecordedEvent => ({
      id: `e${version}`,
      type: 'A',
      data: {},
      metadata: { schemaVersion: 1, timestamp: new Date(1_000_000_000_000 - ageSeconds * 1000).toISOString() },
      streamId: 's',
      version,
      position: version,
      tags: [],
    });
    const all = [at(1, 500), at(2, 300), at(3, 100), at(4, 10)];
    const now = 1_000_000_000_000;
    const forward = { direction: 'forward' as const, from: 1, limit: Number.MAX_SAFE_INTEGER };
    const versions = (events: RecordedEvent[]) => events.map((e) => e.version);
    expect(versions(retainedRead(all, { maxCount: 2 }, forward, now))).toEqual([3, 4]);
    expect(versions(retainedRead(all, { maxAge: 200 }, forward, now))).toEqual([3, 4]);
    expect(versions(retainedRead(all, { maxAge: 400, maxCount: 3 }, forward, now))).toEqual([2, 3, 4]);
    expect(versions(retainedRead(all, { maxCount: 3 }, { direction: 'backward', from: 3, limit: 1 }, now))).toEqual([3]);
    expect(versions(retainedRead(all, { maxCount: 3 }, { ...forward, from: 3, limit: 1 }, now))).toEqual([3]);
    expect(versions(retainedRead([], { maxCount: 3 }, forward, now))).toEqual([]);
  });
});
