// The process-manager runtime with its state on Redis (a hash per table, async reads, the batch's writes sent with its
// checkpoint in one script): state per key, refusals recorded once, and a crashed commit replayed without a second
// effect, as on the SQL stores.
import { processStreamId } from 'chronicle-es';
import { createRedisReadStore, type RedisReadStore } from 'chronicle-es/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { crashingBeforeCommit, orderWorld } from '../src/core/workflows/fixtures/process-orders.js';
import { dropPrefix, freshPrefix } from './redis-prefix.js';
import { REDIS_URL, redisAvailable } from './support/redis.js';

const prefix = freshPrefix('process');
const stores: RedisReadStore[] = [];
afterAll(async () => {
  if (!redisAvailable) return;
  for (const store of stores) await store.close();
  await dropPrefix(prefix);
});

describe.skipIf(!redisAvailable)('process managers with their state on Redis', () => {
  it('keeps state per key, records a refusal once and replays a crashed commit with the same keys', async () => {
    const readStore = createRedisReadStore({ url: REDIS_URL, prefix });
    stores.push(readStore);
    const w = orderWorld({ readStore: crashingBeforeCommit(readStore, 1), batchSize: 20 });
    for (let i = 0; i < 30; i++) await w.place(`r${i}`, i === 4 ? 250 : 1);
    await w.pay('r1');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await w.projector.retry('order_process');
    await w.caughtUp(10_000);
    const reserved = await w.reserved();
    expect(reserved.length).toBe(29);
    expect(new Set(reserved).size).toBe(29);
    expect(await w.eventStore.readStream(processStreamId('order_process', 'r4'))).toHaveLength(1);
    expect((await w.ofType('OrderReleased')).length).toBe(1);
    const state = readStore.reader('order_process').table('state');
    expect(await state.get('r0')).toEqual({ amount: 1, status: 'placed' });
    expect(await state.get('r1')).toBeUndefined();
    expect(await state.get('r4')).toEqual({ amount: 250, status: 'refused', refusals: 1 });
    await w.stop();
  });
});
