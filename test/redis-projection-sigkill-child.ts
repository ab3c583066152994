// Child process of redis-projection-sigkill.int.test.ts: projects an event-store file into Redis under a prefix,
// counting applications per event by read-add-write, and reports progress on stdout. THROTTLE_US slows each event so
// the parent's SIGKILL lands mid-run (usually while a batch is being built, sometimes while its script is on the wire).
import { createProjector, defineProjection } from 'chronicle-es';
import { createRedisReadStore, type RedisReadTx } from 'chronicle-es/redis';
import { createSqliteEventStore } from 'chronicle-es/sqlite';

const [eventsPath, redisUrl, prefix] = process.argv.slice(2);
const throttleUs = Number(process.env.THROTTLE_US ?? 0);

const spin = (us: number) => {
  const until = process.hrtime.bigint() + BigInt(us) * 1000n;
  while (process.hrtime.bigint() < until) {}
};

const counter = defineProjection<RedisReadTx>({
  name: 'counter',
  version: 1,
  handlers: {
    async Counted(event, tx) {
      if (throttleUs > 0) spin(throttleUs);
      const applied = tx.table<number>('applied');
      const key = String(event.position);
      applied.set(key, ((await applied.get(key)) ?? 0) + 1);
    },
  },
});

const eventStore = createSqliteEventStore({ path: eventsPath });
const readStore = createRedisReadStore({ url: redisUrl, prefix });
const projector = createProjector({ eventStore, readStore, projections: [counter], batchSize: 100 });
projector.onChange(({ position }) => process.stdout.write(`progress ${position}\n`));
await projector.start();
const head = await eventStore.headPosition();
await projector.waitForPosition(head, { timeoutMs: 120_000 });
await projector.stop();
await readStore.close();
await eventStore.close();
process.stdout.write(`done ${head}\n`);
