// The shapes workflows share: the clock, what a process manager returns, and what the runtime needs to send commands.
import type { CommandBus } from '../command-bus.js';
import type { Command } from '../command-handler.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import type { Principal } from '../messages.js';
import type { ScheduledCommand } from './schedule-events.js';

/** Milliseconds since the epoch, like `Date.now` (the default); injected so tests move time by hand. */
export type Clock = () => number;

/**
 * What a process manager's handler returns for one event; every field is optional and `undefined` (or nothing
 * returned at all) changes nothing.
 */
export type ProcessStep<S> = {
  /** The process's new state for this event's key; `null` ends the process (its state is deleted). */
  state?: S | null;
  /** Commands to send now, in order; each carries the key `<process>:<event id>:<index>`, so a replay sends none twice. */
  send?: readonly Command[];
  /** Commands to send later (see `schedule`). */
  schedule?: readonly ScheduledCommand[];
  /**
   * Keys of scheduled commands to cancel: what was scheduled under them before the event, or since by this process
   * itself (in the same batch) — not what others scheduled after, which a replay must not cancel.
   */
  cancel?: readonly string[];
};

/** What a process manager's handler sees besides its event. */
export type ProcessContext<S> = {
  /** The correlation key the event belongs to (e.g. an order id). */
  key: string;
  /** The process's state for `key`; undefined before its first step or after it ended. */
  state: S | undefined;
  /** The workflows clock, in ms. Resolve `after` against it, not against Date.now, so tests can move time. */
  now: number;
};

/** A command a process sent that was refused on its merits (not a failure that may pass, which is retried). */
export type Refusal = {
  command: Command;
  /** The refusal's ChronicleError code: DOMAIN_RULE, VALIDATION_FAILED, NOT_FOUND or STREAM_DELETED. */
  code: string;
  message: string;
  /** The event whose step sent the command. */
  event: RecordedEvent;
  /** The command's place in that step's `send`. */
  index: number;
};

/** What sending commands needs: the bus to send through, the store schedules go to, the clock and the sender. */
export type WorkflowDeps = {
  commandBus: CommandBus;
  eventStore: EventStore;
  clock: Clock;
  /** The principal workflows send commands as. */
  principal: Principal;
};

/** How transient failures of a command (conflicts after retries, store errors) are retried before the process fails. */
export type RetryOptions = {
  /** Tries in all, the first included. Default 5. */
  attempts?: number;
  /** Wait before the second try; doubles each time. Default 50. */
  initialDelayMs?: number;
  /** Longest wait between tries. Default 2000. */
  maxDelayMs?: number;
};
