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

/** One delivered event: its position and `streamId@version`, which says which acknowledged event it is. */
export type Seen = { position: number; key: string };

export const keyOf = (e: Pick<RecordedEvent, 'streamId' | 'version'>) => `${e.streamId}@${e.version}`;

export type Watchers = {
  /** What the subscriber was handed, in delivery order. */
  subscribed: Seen[];
  /** What the projection applied (committed batches only), in position order. */
  projected(): Seen[];
  /** The projector's served checkpoint. */
  projectorPosition(): Promise<number>;
  /** Resolves once both have passed `position`. */
  reach(position: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
};

/** Watches `store` from position 0 for events of `type`, polling every `pollIntervalMs`. */
export async function watch(store: EventStore, type: string, pollIntervalMs = 50): Promise<Watchers> {
  const subscribed: Seen[] = [];
  let failure: unknown;
  const sub = store.subscribe({ from: 0, pollIntervalMs, batchSize: 200 }, (events: readonly RecordedEvent[]) => {
    for (const e of events) subscribed.push({ position: e.position, key: keyOf(e) });
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
        const applied = tx.table<string>('applied');
        if (applied.get(String(event.position)) !== undefined) throw new Error(`position ${event.position} applied twice`);
        const last = tx.table<number>('last');
        const before = last.get('p') ?? 0;
        if (event.position <= before) throw new Error(`position ${event.position} applied after ${before}`);
        applied.set(String(event.position), keyOf(event));
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
      const table = read.reader('log').table<string>('applied');
      return [...table].map(([position, key]) => ({ position: Number(position), key })).sort((a, b) => a.position - b.position);
    },
    projectorPosition,
    async reach(position: number, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (failure !== undefined) throw failure;
        const done = (subscribed.at(-1)?.position ?? 0) >= position && (await projectorPosition()) >= position;
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

/** Problems with `delivered` against the acknowledged events `expected` (keys): each once, nothing else, positions
 * strictly increasing in delivery order. */
export function deliveryProblems(expected: readonly string[], delivered: readonly Seen[]): string[] {
  const problems: string[] = [];
  for (let i = 1; i < delivered.length; i++) {
    if (delivered[i].position <= delivered[i - 1].position) {
      problems.push(`position ${delivered[i].position} delivered after ${delivered[i - 1].position}`);
      if (problems.length >= 5) break;
    }
  }
  const want = new Set(expected);
  const got = new Set(delivered.map((d) => d.key));
  const missing = expected.filter((k) => !got.has(k));
  const extra = [...got].filter((k) => !want.has(k));
  if (missing.length > 0) problems.push(`${missing.length} acknowledged events missing, first ${missing.slice(0, 5).join(', ')}`);
  if (extra.length > 0) problems.push(`${extra.length} events never acknowledged, first ${extra.slice(0, 5).join(', ')}`);
  if (got.size !== delivered.length) problems.push(`${delivered.length - got.size} events delivered more than once`);
  return problems;
}
