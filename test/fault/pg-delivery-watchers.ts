// What the PostgreSQL delivery tests watch the global log with: a live subscriber and a projector (in-memory read
// store), each recording what it was handed, so a test can demand every acknowledged event once, in position order.
import {
  createInMemoryReadStore,
  createProjector,
  defineProjection,
  type EventStore,
  type InMemoryReadTx,
  type RecordedEvent,
} from 'chronicle-es';

export type Watchers = {
  /** Positions the subscriber was handed, in delivery order. */
  subscribed: number[];
  /** Positions the projection applied, in order (committed batches only). */
  projected(): number[];
  /** The projector's served checkpoint. */
  projectorPosition(): Promise<number>;
  /** Resolves once both have passed `position`. */
  reach(position: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
};

/** Watches `store` from position 0 for events of `type`, polling every `pollIntervalMs`. */
export async function watch(store: EventStore, type: string, pollIntervalMs = 50): Promise<Watchers> {
  const subscribed: number[] = [];
  let failure: unknown;
  const sub = store.subscribe({ from: 0, pollIntervalMs, batchSize: 200 }, (events: readonly RecordedEvent[]) => {
    for (const e of events) subscribed.push(e.position);
  });
  sub.done.catch((err) => {
    failure = err;
  });
  const read = createInMemoryReadStore();
  const projection = defineProjection<InMemoryReadTx>({
    name: 'log',
    version: 1,
    handlers: {
      [type]: (event: RecordedEvent, tx: InMemoryReadTx) => {
        // One row per applied event, keyed by position: a repeat overwrites nothing silently, it fails the projection.
        const applied = tx.table<number>('applied');
        if (applied.get(String(event.position)) !== undefined) throw new Error(`position ${event.position} applied twice`);
        const last = tx.table<number>('last');
        const before = last.get('p') ?? 0;
        if (event.position <= before) throw new Error(`position ${event.position} applied after ${before}`);
        applied.set(String(event.position), event.position);
        last.set('p', event.position);
      },
    },
  });
  const projector = createProjector({
    eventStore: store,
    readStore: read,
    projections: [projection],
    pollIntervalMs,
    batchSize: 200,
  });
  await projector.start();

  const projectorPosition = async () => {
    const [status] = await projector.status();
    if (status.state === 'failed') throw new Error(`projection failed: ${status.lastError?.message}`);
    return status.position;
  };
  return {
    subscribed,
    projected: () => {
      const table = read.reader('log').table<number>('applied');
      return [...table.values()].sort((a, b) => a - b);
    },
    projectorPosition,
    async reach(position: number, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (failure !== undefined) throw failure;
        const done = (subscribed.at(-1) ?? 0) >= position && (await projectorPosition()) >= position;
        if (done) return;
        if (Date.now() > deadline) {
          throw new Error(
            `watchers did not reach ${position}: subscriber at ${subscribed.at(-1)}, projector at ${await projectorPosition()}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      await sub.stop();
      await projector.stop();
      if (failure !== undefined) throw failure;
    },
  };
}

/** Every position in `expected` exactly once and nothing else, in strictly increasing order. */
export function deliveryProblems(expected: readonly number[], delivered: readonly number[]): string[] {
  const problems: string[] = [];
  for (let i = 1; i < delivered.length; i++) {
    if (delivered[i] <= delivered[i - 1]) problems.push(`position ${delivered[i]} delivered after ${delivered[i - 1]}`);
  }
  const want = new Set(expected);
  const got = new Set(delivered);
  const missing = expected.filter((p) => !got.has(p));
  const extra = delivered.filter((p) => !want.has(p));
  if (missing.length > 0) problems.push(`${missing.length} missing, first ${missing.slice(0, 5).join(', ')}`);
  if (extra.length > 0) problems.push(`${extra.length} not acknowledged, first ${extra.slice(0, 5).join(', ')}`);
  if (got.size !== delivered.length) problems.push(`${delivered.length - got.size} delivered twice`);
  return problems;
}
