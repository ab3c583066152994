// Runs a decider against rows instead of a stream: load the row in the write transaction, decide, save the new state
// and emit the events in that same transaction; on a conflict, load again and decide again.
import type { Command, CommandContext, CommandHandler, CommandResult } from '../command-handler.js';
import { runIdempotent } from '../command-idempotency.js';
import { commandMetadata, withMetadata } from '../command-metadata.js';
import type { Decider } from '../decider.js';
import { ChronicleError, isChronicleError } from '../errors.js';
import type { AppendResult } from '../event-store.js';
import { assertStreamId } from '../store-kit.js';
import { andThen, type MaybePromise, type StateStoredStore, type WriteRunResult } from './state-stored-store.js';

/**
 * What `load` and `save` return for a store's tx: on a store that answers at once (SQLite's, inside its group commit)
 * the value itself, so an `async` load or save there does not compile; elsewhere a value or a promise.
 */
export type TxAnswer<Tx, T> = Tx extends { readonly synchronous: true } ? T : MaybePromise<T>;

/** A row as loaded: its state and its version column (the version of the row's stream: 0 before its first event). */
export type StoredState<S> = { state: S; version: number };

/** What `save` writes: the row's state before and after the command's events, and the versions around them. */
export type StateChange<C, E, S> = {
  command: C;
  streamId: string;
  /** Undefined when no row was loaded (insert), else the state loaded. */
  before: S | undefined;
  after: S;
  events: readonly E[];
  /** The version loaded (0 for no row): update only `WHERE version = expectedVersion`. */
  expectedVersion: number;
  /** The version to store: `expectedVersion + events.length`. */
  version: number;
};

export type StateStoredHandlerOptions<C extends Command, E extends { type: string; data: unknown }, S, Tx> = {
  store: StateStoredStore<Tx>;
  /** The same decider a stream handler takes: `decide` chooses the events, `evolve` gives the state to save. */
  decider: Decider<C, E, S>;
  /** The stream the events go to, one per row, e.g. `c => \`customer-${c.data.customerId}\``. */
  streamId: (command: C) => string;
  /** Reads the row (undefined when there is none: the decider's initial state, version 0). */
  load: (tx: Tx, command: C) => TxAnswer<Tx, StoredState<S> | undefined>;
  /**
   * Writes the new state (only called when there are events). The row's version column must become `version`:
   * the events are appended at `expectedVersion`, which is what makes a concurrent change a CONCURRENCY_CONFLICT.
   * Return the result of the row's own statement (`UPDATE … WHERE version = expectedVersion`, or for a new row
   * `INSERT … ON CONFLICT DO NOTHING`): `changes: 0` means another command changed the row first, and is retried too.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a save that checks nothing returns nothing
  save: (tx: Tx, change: StateChange<C, E, S>) => TxAnswer<Tx, WriteRunResult | undefined | void>;
  /**
   * The subjects whose personal data the command's events may carry, passed to `transact` (a crypto-shredding store
   * fetches their keys before the transaction). Default none.
   */
  subjects?: (command: C) => readonly string[];
  /** Conflicts retried before CONCURRENCY_CONFLICT is raised. Default 3. */
  maxRetries?: number;
};

/**
 * A handler for commands on a row of the write tables: the row change and the events commit together; the events
 * are ordinary log events of the row's stream (subscribe, projections, relays and process managers see them).
 * @throws DOMAIN_RULE (from the decider; nothing is written), CONCURRENCY_CONFLICT after the retries,
 *   IDEMPOTENCY_MISMATCH, INVALID_ARGUMENT, STORE_ERROR
 */
export function createStateStoredHandler<C extends Command, E extends { type: string; data: unknown }, S, Tx>(
  options: StateStoredHandlerOptions<C, E, S, Tx>,
): CommandHandler<C> {
  const { store, decider, load, save } = options;
  const maxRetries = options.maxRetries ?? 3;

  // One transaction: everything from the load to the events runs inside it, synchronously where the store allows.
  const work = (command: C, streamId: string, context: CommandContext) => (tx: Tx) =>
    andThen(load(tx, command), (stored) => {
      const before = stored?.state;
      const expectedVersion = stored?.version ?? 0;
      if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
        throw new ChronicleError('INVALID_ARGUMENT', `${command.type}: load returned version ${expectedVersion}`);
      }
      const state = stored === undefined ? decider.initialState : stored.state;
      const events = decider.decide(command, state);
      const write = {
        streamId,
        expectedVersion,
        events: withMetadata(events, commandMetadata(command, context)),
      };
      // No events, no row change: the empty write still checks the version and records an idempotency key.
      if (events.length === 0) return [write];
      let after = state;
      for (const event of events) after = decider.evolve(after, event);
      const change = { command, streamId, before, after, events, expectedVersion, version: expectedVersion + events.length };
      return andThen(save(tx, change), (saved) => {
        if ((saved as Partial<WriteRunResult> | undefined)?.changes === 0) {
          throw new ChronicleError('CONCURRENCY_CONFLICT', `${streamId} changed since it was loaded`, {
            details: { streamId, expectedVersion },
          });
        }
        return [write];
      });
    });

  async function attempt(command: C, context: CommandContext, key?: string, fingerprint?: string) {
    const streamId = options.streamId(command);
    assertStreamId(streamId);
    const subjects = options.subjects?.(command);
    for (let tries = 0; ; tries++) {
      try {
        const results = await store.transact(work(command, streamId, context), {
          idempotencyKey: key,
          idempotencyFingerprint: fingerprint,
          ...(subjects !== undefined && { subjects }),
        });
        return toResult(results);
      } catch (err) {
        // Someone changed the row first: the next attempt loads what they wrote and decides again.
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || tries >= maxRetries) throw err;
      }
    }
  }

  return (command, context) =>
    runIdempotent(store, command, context, (key, fingerprint) => attempt(command, context, key, fingerprint), toResult);
}

function toResult(results: readonly AppendResult[]): CommandResult {
  const [first] = results;
  return { streamId: first.streamId, version: first.version, position: first.position };
}
