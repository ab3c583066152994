// The scheduler on a Redis read store: its tables are hashes, which cannot be read by due time, so the scheduler is
// refused up front with the reason; with `scheduler: false` the workflows still write schedules (another process,
// on a read store that can, fires them).
import { createInMemoryEventStore, createWorkflows, isChronicleError } from 'chronicle-es';
import { createRedisReadStore } from 'chronicle-es/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshPrefix } from './redis-prefix.js';
import { REDIS_URL, redisAvailable } from './support/redis.js';
import { Bump, scheduleCommands, scheduleStream } from './support/workflows-schedule-kit.js';

// Nothing is written to it: the scheduler is refused before any use.
const readStore = createRedisReadStore({ url: REDIS_URL, prefix: freshPrefix('schedules') });
afterAll(() => readStore.close());

describe.skipIf(!redisAvailable)('the scheduler on a Redis read store', () => {
  it('is refused with the reason, and schedules are still written with scheduler: false', async () => {
    const eventStore = createInMemoryEventStore();
    const { bus } = scheduleCommands(eventStore);
    expect(() => createWorkflows({ commandBus: bus, eventStore, readStore })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/cannot be read that way/) }),
    );

    const workflows = createWorkflows({ commandBus: bus, eventStore, readStore, scheduler: false });
    expect(workflows.projections).toEqual([]);
    await workflows.schedule(Bump, { id: 'r' }, { key: 'k-redis', after: 1000 });
    expect((await scheduleStream(eventStore, 'k-redis')).map((e) => e.type)).toEqual(['chronicle.CommandScheduled']);
    expect(await workflows.cancel('k-redis')).toBe(true);
    expect(await workflows.fireDue()).toBe(0);
    const err = await workflows.status().catch((e: unknown) => e);
    expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});
