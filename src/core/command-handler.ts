// Runs a decider against the event store: load, decide, append with the version read, retry on conflict.
import type { Decider, StreamModel } from './decider.js';
import { ChronicleError, isChronicleError } from './errors.js';
import type { AppendResult, EventStore, NewEvent } from './event-store.js';
import type { Principal } from './messages.js';

/** What every command returns: a status, never read-model data. */
export type CommandResult = {
  streamId: string;
  version: number;
  /** Global position of the last event written; pass it as `minPosition` to read your writes. */
  position: number;
};

/** Per-dispatch context a command handler receives. */
export type CommandContext = {
  principal?: Principal;
  idempotencyKey?: string;
  correlationId?: string;
  causationId?: string;
};

export type Command<Type extends string = string, Data = unknown> = { type: Type; data: Data };

/** Handles one command type; returns its status. */
export type CommandHandler<C extends Command = Command> = (command: C, context: CommandContext) => Promise<CommandResult>;

export type CommandHandlerOptions<C extends Command, E extends { type: string; data: unknown }, S> = {
  store: EventStore;
  decider: Decider<C, E, S>;
  /** The stream a command targets, e.g. `c => \`order-${c.data.orderId}\``. */
  streamId: (command: C) => string;
  /** Conflicts retried before CONCURRENCY_CONFLICT is raised. Default 3. */
  maxRetries?: number;
};

/**
 * A handler for commands that touch one stream.
 * @throws DOMAIN_RULE (from the decider), CONCURRENCY_CONFLICT after the retries, STREAM_DELETED, STORE_ERROR
 */
export function createCommandHandler<C extends Command, E extends { type: string; data: unknown }, S>(
  options: CommandHandlerOptions<C, E, S>,
): CommandHandler<C> {
  const { store, decider, streamId } = options;
  return createMultiStreamHandler<C>({
    store,
    maxRetries: options.maxRetries,
    streams: (command) => [{ streamId: streamId(command), model: decider }],
    decide: (command, states) => {
      const [[id, state]] = states;
      return [{ streamId: id, events: decider.decide(command, state as S) as readonly NewEvent[] }];
    },
  });
}

export type MultiStreamHandlerOptions<C extends Command> = {
  store: EventStore;
  /** The streams a command reads; the first is the one its status reports. */
  streams: (command: C) => ReadonlyArray<{ streamId: string; model: StreamModel<any, any> }>;
  /** Pure: the events to append per stream, from every loaded stream's state. Throw DOMAIN_RULE to refuse. */
  decide: (command: C, states: ReadonlyMap<string, unknown>) => ReadonlyArray<{ streamId: string; events: readonly NewEvent[] }>;
  maxRetries?: number;
};

type Loaded = { streamId: string; model: StreamModel<unknown, unknown>; state: unknown; version: number; position: number };

/**
 * A handler for commands whose rule spans several streams (e.g. an order reserving stock on each
 * product). Every loaded stream is checked at the version read, so the decision holds atomically.
 * @throws DOMAIN_RULE, CONCURRENCY_CONFLICT after the retries, INVALID_ARGUMENT, STREAM_DELETED, STORE_ERROR
 */
export function createMultiStreamHandler<C extends Command>(options: MultiStreamHandlerOptions<C>): CommandHandler<C> {
  const { store } = options;
  const maxRetries = options.maxRetries ?? 3;

  async function catchUp(stream: Loaded): Promise<void> {
    const events = await store.readStream(stream.streamId, { from: stream.version + 1 });
    for (const event of events) stream.state = stream.model.evolve(stream.state, event);
    if (events.length > 0) {
      const last = events[events.length - 1];
      stream.version = last.version;
      stream.position = last.position;
    }
  }

  return async (command, context) => {
    const key = context.idempotencyKey === undefined ? undefined : `${command.type}:${context.idempotencyKey}`;
    if (key !== undefined) {
      const earlier = await store.findIdempotentResult(key);
      if (earlier) return toResult(earlier);
    }
    const specs = options.streams(command);
    if (specs.length === 0) throw new ChronicleError('INVALID_ARGUMENT', `${command.type} names no stream`);
    const loaded: Loaded[] = specs.map((s) => ({ ...s, state: s.model.initialState, version: 0, position: 0 }));
    await Promise.all(loaded.map(catchUp));

    for (let attempt = 0; ; attempt++) {
      const states = new Map(loaded.map((s) => [s.streamId, s.state]));
      const decided = options.decide(command, states);
      const byStream = new Map(decided.map((d) => [d.streamId, d.events]));
      for (const id of byStream.keys()) {
        if (!states.has(id))
          throw new ChronicleError('INVALID_ARGUMENT', `${command.type} decided events for unloaded stream ${id}`);
      }
      const primary = loaded[0];
      if ([...byStream.values()].every((events) => events.length === 0)) {
        return { streamId: primary.streamId, version: primary.version, position: primary.position };
      }
      const metadata = {
        correlationId: context.correlationId,
        causationId: context.causationId,
        actor: context.principal?.id,
        command: command.type,
      };
      const writes = loaded.map((s) => ({
        streamId: s.streamId,
        expectedVersion: s.version,
        // Events without their own metadata share one object, so the store encodes it once per batch.
        events: (byStream.get(s.streamId) ?? []).map((e) => ({
          ...e,
          metadata: e.metadata === undefined ? metadata : { ...metadata, ...e.metadata },
        })),
      }));
      try {
        const results =
          writes.length === 1
            ? [
                await store.append(writes[0].streamId, writes[0].events, {
                  expectedVersion: writes[0].expectedVersion,
                  idempotencyKey: key,
                }),
              ]
            : await store.appendMany(writes, { idempotencyKey: key });
        return toResult(results);
      } catch (err) {
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || attempt >= maxRetries) throw err;
        // Someone else wrote first: catch up on what they wrote and decide again on the new state.
        await Promise.all(loaded.map(catchUp));
      }
    }
  };
}

// The first stream is the one the status names; the position is the last event written anywhere,
// so a caller reading with minPosition sees every stream the command touched.
function toResult(results: readonly AppendResult[]): CommandResult {
  const [first] = results;
  return { streamId: first.streamId, version: first.version, position: Math.max(...results.map((r) => r.position)) };
}
