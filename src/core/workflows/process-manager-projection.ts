// A process manager as a projection: a batch's steps run in order against the states of their keys, then the
// commands, schedules and cancellations they asked for go out — concurrently across keys, in order within one — all
// inside the batch's transaction and before its checkpoint commits. Every one carries a key derived from its event,
// so a crash before the commit replays the batch and sends nothing twice in effect.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import { projectionReading } from '../evolution/projection-upcast.js';
import type { AlongsideContext, BatchContext, Projection } from '../projections/define-projection.js';
import { BatchCut, HandlerFailure } from '../projections/run-handlers.js';
import type { ProcessManager } from './define-process-manager.js';
import { type ChainItem, runChains, withRetry } from './process-dispatch.js';
import { type CommandRefusedData, findRefusal, recordRefusal } from './process-refusal.js';
import { processStateTable, setupProcessState } from './process-state.js';
import { checkProcessStep, isThenable, MAX_REFUSAL_ROUNDS, type ProcessTask, processKeyOf } from './process-step.js';
import type { ScheduleWriter } from './scheduler.js';
import { isRefusal } from './workflow-failures.js';
import type { ProcessContext, Refusal, WorkflowDeps } from './workflow-types.js';

// How far a key's cancellations in a batch reach: the log position of its latest event so far, or of what a command
// it sent wrote, if later. A cancellation cancels only what was scheduled at or before it: what its event followed,
// what its own process scheduled for an earlier event (counted at that event's position: its cause), what a
// decision it sent scheduled — not what someone else scheduled since, which a replay of the batch must leave alone.
type Chain = { horizon: number };

// Under the process's own key a mismatch is a replay whose request came out otherwise (its step read the clock or a
// query): the first one went through, and that is the one that stands.
const sentBefore = (err: unknown): undefined => {
  if (isChronicleError(err, 'IDEMPOTENCY_MISMATCH')) return undefined;
  throw err;
};

// Steps taking the whole budget would leave nothing for sending: they get half of it, sending the rest.
const HANDLERS_SHARE = 0.5;

/**
 * The projection that runs `pm`: its steps, its state and its sent commands, checkpointed together. Its state table
 * needs a read store with tables: SQLite, PostgreSQL, in-memory or Redis. A batch holds the read store's transaction
 * open while its requests go out, for about `pm.batchBudgetMs` plus one event's sends and `pm.retry`'s waits: keep
 * that under PostgreSQL's idle_in_transaction_session_timeout. The sends take connections of their own: with the
 * event store and the read store on one pool, every process manager's batch holds one connection while it waits for
 * others, so the pool must be larger than the number of process managers, or they deadlock.
 * A batch stops (HandlerFailure, so the projection fails on that event) at the first event whose step threw, asked
 * for something malformed or a command no handler takes (INVALID_ARGUMENT), or whose command, schedule or
 * cancellation still failed after the retries. Events at or before the batch's `replayThrough` (a rebuild, a raised
 * version) only rebuild the state: nothing goes out for them.
 */
export function processManagerProjection(
  pm: ProcessManager<any>,
  deps: WorkflowDeps,
  schedules: ScheduleWriter,
): Projection<any> {
  const what = `process manager ${pm.name}`;
  const stopping = stopSignal();

  // A command or schedule no handler takes would fail every retry (UNKNOWN_MESSAGE) and is not the business's answer.
  const assertSendable = (tasks: readonly ProcessTask[]) => {
    for (const task of tasks) {
      const type = task.kind === 'send' ? task.command.type : task.kind === 'schedule' ? task.scheduled.data.command.type : '';
      if (type !== '' && !deps.commandBus.definition(type)) {
        throw new ChronicleError('INVALID_ARGUMENT', `${what}: a step sends ${type}, which no handler on its command bus takes`, {
          details: { command: type },
        });
      }
    }
  };

  async function runBatch(
    events: readonly RecordedEvent[],
    tx: unknown,
    { replayThrough }: BatchContext = { replayThrough: 0 },
  ): Promise<void> {
    const started = performance.now();
    const sendingEnds = started + pm.batchBudgetMs;
    const handlingEnds = started + pm.batchBudgetMs * HANDLERS_SHARE;
    const table = processStateTable(tx, pm.name);
    const keys = events.map((event, i) => {
      try {
        return processKeyOf(pm, event);
      } catch (err) {
        throw new HandlerFailure(i, err);
      }
    });
    // The states of the batch's keys as JSON, loaded once and kept current; a handler gets its own parsed copy, so
    // changing it in place changes nothing unless returned.
    const states = await table.load([...new Set(keys.filter((k): k is string => k !== undefined))]);
    const changed = new Map<string, string | null>();
    const contextOf = (key: string): ProcessContext<unknown> => {
      const json = states.get(key);
      return { key, state: json === undefined ? undefined : JSON.parse(json), now: deps.clock() };
    };
    // Applies a step's state and returns what it asks for. @throws INVALID_ARGUMENT a malformed step
    const accept = (key: string, step: unknown, now: number, base: string): ProcessTask[] => {
      const { state, tasks } = checkProcessStep(pm.name, step, now, base);
      if (state !== undefined) {
        if (state === null) states.delete(key);
        else states.set(key, state);
        changed.set(key, state);
      }
      return tasks;
    };

    // Carries out one event's requests (or, for an event already acted on, only finds the refusals recorded for it,
    // whose onRefused steps change the state again). @throws the first request that failed; SendStopped
    const carryOut = async (key: string, event: RecordedEvent, tasks: readonly ProcessTask[], chain: Chain, round: number) => {
      const acting = event.position > replayThrough;
      const trigger = { correlationId: event.metadata.correlationId ?? event.id, causationId: event.id };
      const signal = stopping.signal;
      for (const task of tasks) {
        const idempotencyKey = `${pm.name}:${event.id}:${task.tag}`;
        if (task.kind === 'cancel') {
          const before = chain.horizon + 1;
          if (acting) await withRetry(pm.retry, () => schedules.cancel(task.key, idempotencyKey, { before }), signal);
          continue;
        }
        if (task.kind === 'schedule') {
          if (!acting) continue;
          // Made for this event: it counts as made at the event's position, and carries its correlation.
          await withRetry(
            pm.retry,
            () => schedules.schedule(task.scheduled, idempotencyKey, { cause: event }).catch(sentBefore),
            signal,
          );
          continue;
        }
        // Refused before and acted on (a replay): sending it again could take effect after its compensation.
        let refused = await withRetry(pm.retry, () => findRefusal(deps.eventStore, idempotencyKey), signal);
        if (!refused && acting) {
          const { command } = task;
          try {
            const result = await withRetry(
              pm.retry,
              () =>
                deps.commandBus
                  .dispatch(command.type, command.data, { ...trigger, idempotencyKey, principal: deps.principal })
                  .catch(sentBefore),
              signal,
            );
            if (result) chain.horizon = Math.max(chain.horizon, result.position);
            continue;
          } catch (err) {
            if (!isRefusal(err)) throw err;
            const data: CommandRefusedData = {
              process: pm.name,
              key,
              command,
              idempotencyKey,
              code: err.code,
              message: err.message,
              event: { id: event.id, type: event.type, streamId: event.streamId, position: event.position },
            };
            await withRetry(pm.retry, () => recordRefusal(deps.eventStore, data, event), signal);
            refused = data;
          }
        }
        if (!refused) continue;
        if (!pm.onRefused || round >= MAX_REFUSAL_ROUNDS) continue;
        const { command, code, message } = refused;
        const refusal: Refusal = { command, code, message, event, index: task.index };
        const context = contextOf(key);
        let step: unknown = pm.onRefused(refusal, context);
        if (isThenable(step)) step = await step;
        const base = task.tag.startsWith('r') ? `${task.tag}.` : `r${task.tag}.`;
        const next = accept(key, step, context.now, base);
        if (acting) assertSendable(next);
        await carryOut(key, event, next, chain, round + 1);
      }
    };

    // Each key's requests, in event order: a chain, sent in order (a process's commands may depend on each other).
    const chains = new Map<string, { chain: Chain; items: ChainItem[] }>();
    let handled = events.length;
    for (let i = 0; i < events.length; i++) {
      // Out of time (or stopping, for what would act): the events from here go in the next batch.
      if (i > 0 && (performance.now() >= handlingEnds || (stopping.signal.aborted && events[i].position > replayThrough))) {
        handled = i;
        break;
      }
      const key = keys[i];
      if (key === undefined) continue;
      const event = events[i];
      try {
        const context = contextOf(key);
        let step: unknown = pm.handlers[event.type](event, context);
        if (isThenable(step)) step = await step;
        const tasks = accept(key, step, context.now, '');
        if (tasks.length === 0) continue;
        if (event.position > replayThrough) assertSendable(tasks);
        let entry = chains.get(key);
        if (!entry) {
          entry = { chain: { horizon: 0 }, items: [] };
          chains.set(key, entry);
        }
        const { chain } = entry;
        entry.items.push({
          index: i,
          run: () => {
            chain.horizon = Math.max(chain.horizon, event.position);
            return carryOut(key, event, tasks, chain, 0);
          },
        });
      } catch (err) {
        throw err instanceof HandlerFailure ? err : new HandlerFailure(i, err);
      }
    }

    // The first event's requests always start, so every batch moves on, however slow. Stopping holds back only what
    // would act: a replay only reads, and lets a batch cut short commit what did go out.
    const first = chains.values().next().value?.items[0].index;
    const mayStart = (index: number) =>
      (index === first || performance.now() < sendingEnds) &&
      (events[index].position <= replayThrough || !stopping.signal.aborted);
    const { failure, cut = handled } = await runChains(
      [...chains.values()].map((c) => c.items),
      mayStart,
    );
    const through = Math.min(cut, handled);
    if (failure && failure.index < through) throw new HandlerFailure(failure.index, failure.error);
    if (through < events.length) throw new BatchCut(through);
    await table.save(changed);
  }

  // One event alone is a batch of one: the same path as runBatch, for callers that apply handlers one by one.
  const single = (event: RecordedEvent, tx: unknown) =>
    Promise.resolve(runBatch([event], tx)).catch((err: unknown) => {
      if (err instanceof BatchCut) throw new ChronicleError('CLOSED', `${what}: stopped before its requests went out`);
      throw err instanceof HandlerFailure ? err.error : err;
    });
  // Its steps see events in their current shape (the runtime upcasts each batch before runBatch), found also under
  // their former names.
  const reading = projectionReading(pm.events, pm.eventTypes);
  return Object.freeze({
    name: pm.name,
    version: pm.version,
    setup: (tx: unknown) => setupProcessState(tx, pm.name),
    handlers: Object.freeze(Object.fromEntries(pm.eventTypes.map((type) => [type, single]))),
    eventTypes: reading.eventTypes,
    ...(reading.upcast && { upcast: reading.upcast }),
    firstRun: pm.firstRun,
    runBatch,
    alongside: stopping.alongside,
  });
}

// The runner tells a projection that it stops here only through `alongside`: while one runs, batches may wait between
// retries; once the last is aborted (stop, or the lease lost), waits end and nothing further starts, so stop() does
// not wait out a long backoff. What did not go out is left for the next batch (no failure).
function stopSignal() {
  let controller = new AbortController();
  let running = 0;
  return {
    get signal(): AbortSignal {
      return controller.signal;
    },
    async alongside({ signal }: AlongsideContext): Promise<void> {
      if (controller.signal.aborted) controller = new AbortController();
      running++;
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      if (--running === 0) controller.abort();
    },
  };
}
