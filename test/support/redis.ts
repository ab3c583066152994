// Redis for tests: whether the shared server answers. In CI an unreachable server fails the importing test file
// loudly; on a developer machine without one the tests skip with the printed reason.
import { Redis } from 'ioredis';
import { REDIS_URL } from './redis-url.js';

export { REDIS_URL } from './redis-url.js';

async function reachable(): Promise<string | undefined> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    client.disconnect();
  }
}

const unreachable = await reachable();
if (unreachable !== undefined) {
  const reason = `Redis at ${REDIS_URL} does not answer (${unreachable}); start it with the command in STACK.md`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(`skipping Redis tests: ${reason}`);
}

/** False only on a developer machine without the server (CI throws instead): use with `describe.skipIf(!redisAvailable)`. */
export const redisAvailable = unreachable === undefined;
