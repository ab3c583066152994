// The port's three append forms (one stream, several streams, tagged events) reduced to one prepared call, so every
// adapter checks them alike and writes only that call.
import type {
  AppendManyOptions,
  AppendOptions,
  AppendResult,
  EventStore,
  NewEvent,
  StreamWrite,
  TaggedEvent,
} from './event-store.js';
import {
  assertIdempotencyKey,
  normalizeCondition,
  type PreparedWrite,
  prepareTaggedEvents,
  prepareWrite,
  prepareWrites,
} from './store-kit.js';
import { appendChannel, traced } from './telemetry/channels.js';
import type { AppendTrace } from './telemetry/trace-types.js';

/** An append ready to write: its writes prepared, its key checked, its condition normalized. */
export type PreparedAppend = {
  writes: PreparedWrite[];
  key: string | undefined;
  fingerprint: string | undefined;
  condition: ReturnType<typeof normalizeCondition>;
};

/** The append methods of an event store. */
export type AppendForms = Pick<EventStore, 'append' | 'appendMany'>;

/**
 * `append` (both forms) and `appendMany` over `write`, which writes one prepared call atomically and resolves with one
 * result per write. Everything is checked before `write` sees it, so a malformed retry is refused rather than answered
 * by its idempotency key. Each call is traced (the `chronicle:append` channel) under `backend`'s name.
 * @throws INVALID_ARGUMENT, and what `assertOpen` and `write` raise
 */
export function appendForms(
  assertOpen: () => void,
  write: (call: PreparedAppend) => Promise<AppendResult[]>,
  backend = 'custom',
): AppendForms {
  const call = (writes: PreparedWrite[], options: AppendManyOptions): PreparedAppend => ({
    writes,
    key: options.idempotencyKey,
    fingerprint: options.idempotencyFingerprint,
    condition: normalizeCondition(options.condition),
  });
  // After validation, so a span or metric counts only appends that reached the store.
  const tracedWrite = (prepared: PreparedAppend) =>
    traced(
      appendChannel,
      () => traceOf(backend, prepared),
      () => write(prepared),
    );
  const now = () => new Date().toISOString();

  // Options may come as null from untyped callers: read as none, as every adapter did.
  async function appendToStream(streamId: string, events: readonly NewEvent[], options: AppendOptions) {
    assertOpen();
    assertIdempotencyKey(options);
    const prepared = prepareWrite({ streamId, events, expectedVersion: options.expectedVersion }, now());
    const [result] = await tracedWrite(call([prepared], options));
    return result;
  }

  async function appendTagged(events: readonly TaggedEvent[], options: AppendManyOptions) {
    assertOpen();
    assertIdempotencyKey(options);
    return tracedWrite(call(prepareTaggedEvents(events, now()), options));
  }

  return {
    // The stream form passes `events` on as given: a missing or null list must reach validation, not become [].
    append: ((first: string | readonly TaggedEvent[], second?: unknown, third?: AppendOptions) =>
      typeof first === 'string'
        ? appendToStream(first, second as readonly NewEvent[], third ?? {})
        : appendTagged(first, (second as AppendManyOptions | undefined) ?? {})) as EventStore['append'],

    async appendMany(writes: readonly StreamWrite[], given?: AppendManyOptions) {
      assertOpen();
      const options = given ?? {};
      assertIdempotencyKey(options);
      return tracedWrite(call(prepareWrites(writes, now()), options));
    },
  };
}

function traceOf(backend: string, { writes }: PreparedAppend): AppendTrace {
  let events = 0;
  for (const w of writes) events += w.events.length;
  return { backend, streamId: writes[0]?.streamId ?? '', streams: writes.length, events };
}
