// What the event-store conformance cases share: fresh names, waiting, and checks on what a store holds.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type {
  AppendManyOptions,
  AppendResult,
  EventStore,
  ExpectedVersion,
  NewEvent,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from 'chronicle-es';
import { sleep } from './conformance-kit.js';

// Subscriptions in the suite poll fast so a store shared with other processes is still followed promptly.
export const POLL_MS = 20;
// How long the suite waits for something asynchronous (a subscriber catching up) before failing.
export const WAIT_MS = 10_000;

/** A short random token without `-`, so it can sit inside a category. */
export const token = () => randomUUID().replaceAll('-', '').slice(0, 12);
/** A stream id no other test (or earlier run on the same database) has used. */
export const freshStream = (label = 'conf') => `${label}${token()}-${token()}`;
/** A category no other test has used; streams in it are `${category}-…`. */
export const freshCategory = (label = 'cat') => `${label}${token()}`;
/** An event type no other test has used. */
export const freshType = (label = 'Conf') => `${label}${token()}`;

/** A tag no other test has used. */
export const freshTag = (label = 'tag') => `${label}:${token()}`;

/** An event to append; with tags when given. */
export const ev = (type: string, data: unknown = {}, tags?: readonly string[]): NewEvent =>
  tags === undefined ? { type, data } : { type, data, tags };
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitFor(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The settled outcome of a promise: the error it rejected with, or undefined when it resolved. */
export const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e ?? new Error('rejected with nothing'),
  );

/**
 * Asserts a failed call left no trace: none of `streamIds` appears in the log after `before`, and when
 * nobody else wrote meanwhile the head has not moved. Works on a database other tests write to.
 */
export async function assertNothingWrittenSince(store: EventStore, before: number, streamIds: readonly string[]): Promise<void> {
  const newer = await store.readAll({ from: before + 1 });
  const ours = newer.filter((e) => streamIds.includes(e.streamId));
  assert.deepEqual(
    ours.map((e) => `${e.streamId}@${e.version}`),
    [],
    'a failed write left events in the global log',
  );
  if (newer.length === 0) assert.equal(await store.headPosition(), before, 'a failed write moved headPosition');
  for (const id of streamIds) {
    const info = await store.streamInfo(id);
    assert.equal(info.version, 0, `a failed write gave stream ${JSON.stringify(id)} a version`);
    if (!info.deleted) assert.deepEqual(await store.readStream(id), [], 'a failed write left events in the stream');
  }
}

/** A subscription that records everything it is handed. */
export function collect(store: EventStore, options: SubscribeOptions) {
  const events: RecordedEvent[] = [];
  const checkpoints: number[] = [];
  const batches: { positions: number[]; checkpoint: number }[] = [];
  let calls = 0;
  const sub: Subscription = store.subscribe(options, async (batch, checkpoint) => {
    calls++;
    events.push(...batch);
    checkpoints.push(checkpoint);
    batches.push({ positions: batch.map((e) => e.position), checkpoint });
  });
  return {
    sub,
    events,
    batches,
    get calls() {
      return calls;
    },
    get checkpoint() {
      return checkpoints.at(-1) ?? -1;
    },
  };
}

/** Every delivered event once, in position order, inside its batch's checkpoint; checkpoints never go back. */
export function assertWellFormedDelivery(batches: readonly { positions: number[]; checkpoint: number }[], from: number): void {
  let last = from - 1;
  let lastCheckpoint = -1;
  for (const { positions, checkpoint } of batches) {
    assert.ok(checkpoint >= lastCheckpoint, `checkpoint went back from ${lastCheckpoint} to ${checkpoint}`);
    lastCheckpoint = checkpoint;
    for (const p of positions) {
      assert.ok(p > last, `position ${p} delivered after ${last}: repeated or out of order`);
      assert.ok(p <= checkpoint, `position ${p} delivered in a batch with checkpoint ${checkpoint}`);
      last = p;
    }
  }
}

/** One stream's part of an append, in whichever form a case writes it. */
export type FormWrite = { streamId: string; events: readonly NewEvent[]; expectedVersion?: ExpectedVersion };

/** One of the three ways to append under a condition; the condition cases run in each. */
export type AppendForm = {
  name: string;
  /** Takes several streams in one call (appendMany, tagged append); the stream append takes one. */
  multi: boolean;
  /** Takes expected versions (the tagged append writes at 'any'). */
  versions: boolean;
  /** Appends and returns one result per write, in order. */
  write(store: EventStore, writes: readonly FormWrite[], options?: AppendManyOptions): Promise<AppendResult[]>;
};

export const APPEND_FORMS: readonly AppendForm[] = [
  {
    name: 'stream append',
    multi: false,
    versions: true,
    async write(store, writes, options = {}) {
      assert.equal(writes.length, 1, 'a stream append writes one stream');
      const [{ streamId, events, expectedVersion }] = writes;
      return [await store.append(streamId, events, expectedVersion === undefined ? options : { ...options, expectedVersion })];
    },
  },
  {
    name: 'appendMany',
    multi: true,
    versions: true,
    write: (store, writes, options) => store.appendMany(writes, options),
  },
  {
    name: 'tagged append',
    multi: true,
    versions: false,
    write(store, writes, options) {
      assert.ok(
        writes.every((w) => w.expectedVersion === undefined),
        'a tagged append takes no expected version',
      );
      return store.append(
        writes.flatMap((w) => w.events.map((e) => ({ ...e, streamId: w.streamId }))),
        options,
      );
    },
  },
];

/** The `n` of each event's data, in the order given: what most DCB cases compare. */
export const ns = (events: readonly RecordedEvent[]) => events.map((e) => (e.data as { n: number }).n);
