// Firing one due schedule: confirm against the log that it is still the pending scheduling under its key, send its
// command with a key derived from that scheduling (so a second firing takes no second effect), and record the firing
// in the schedule's stream at the version it confirmed (so a cancel or reschedule that came meanwhile wins).
import { createHash } from 'node:crypto';
import type { Command } from '../command-handler.js';
import { isChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import {
  COMMAND_SCHEDULED,
  type CommandScheduledData,
  SCHEDULE_FIRED,
  type ScheduleFiredData,
  scheduleStreamId,
} from './schedule-events.js';
import type { PendingSchedule } from './schedule-table.js';
import { backoffDelay, isRefusal, pause } from './workflow-failures.js';
import type { RetryOptions, WorkflowDeps } from './workflow-types.js';

/** What a failure says: its ChronicleError code when it has one. */
export type FiringError = { code?: string; message: string };

export type Firing =
  /** Sent, and recorded unless a cancel or reschedule was appended meanwhile (after the send: it stands). */
  | { fired: true; outcome: 'done' | 'refused'; error?: FiringError }
  /** The log no longer has it pending (cancelled, replaced or fired): the projection has not caught up yet. */
  | { fired: false; reason: 'stale' }
  /** Transient failures through every attempt; it stays pending for a later round. */
  | { fired: false; reason: 'failed'; error: FiringError }
  /** The signal aborted while it waited to try again. */
  | { fired: false; reason: 'stopped' };

export type FiringContext = {
  deps: WorkflowDeps;
  retry: Required<RetryOptions>;
  signal: AbortSignal;
};

// The event store keeps `<command type>:<key>` and allows 512 characters; a long schedule key is hashed to fit.
const MAX_STORED_KEY = 512;

/** The idempotency key a scheduling's command is sent with: `chronicle.schedule:<key>:<version>`. */
export function firingKey(commandType: string, key: string, version: number): string {
  const plain = `chronicle.schedule:${key}:${version}`;
  if (commandType.length + 1 + plain.length <= MAX_STORED_KEY) return plain;
  return `chronicle.schedule:#${createHash('sha256').update(key).digest('base64url')}:${version}`;
}

/** What `err` says, with its ChronicleError code when it has one. */
export const errorOf = (err: unknown): FiringError => {
  const message = err instanceof Error ? err.message : String(err);
  const code = isChronicleError(err) ? err.code : undefined;
  return code === undefined ? { message } : { code, message };
};

/** Fires `pending` once in effect; transient failures are tried again per `retry`, then reported. Never throws. */
export async function fireSchedule(pending: PendingSchedule, context: FiringContext): Promise<Firing> {
  const { retry, signal } = context;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fireOnce(pending, context);
    } catch (err) {
      if (attempt >= retry.attempts) return { fired: false, reason: 'failed', error: errorOf(err) };
    }
    if (!(await pause(backoffDelay(retry, attempt), signal))) return { fired: false, reason: 'stopped' };
  }
}

// One try; throws only transient failures.
async function fireOnce({ key, version }: PendingSchedule, { deps }: FiringContext): Promise<Firing> {
  const { eventStore, commandBus, principal } = deps;
  const streamId = scheduleStreamId(key);
  let last: RecordedEvent | undefined;
  try {
    [last] = await eventStore.readStream(streamId, { direction: 'backward', limit: 1 });
  } catch (err) {
    // Deleted by hand: nothing is pending there any more.
    if (isChronicleError(err, 'STREAM_DELETED')) return { fired: false, reason: 'stale' };
    throw err;
  }
  if (!last || last.type !== COMMAND_SCHEDULED || last.version !== version) return { fired: false, reason: 'stale' };
  const command = (last.data as CommandScheduledData).command as Command;
  const correlationId = last.metadata.correlationId ?? last.id;
  let outcome: 'done' | 'refused' = 'done';
  let error: FiringError | undefined;
  try {
    await commandBus.dispatch(command.type, command.data, {
      idempotencyKey: firingKey(command.type, key, version),
      principal,
      correlationId,
      causationId: last.id,
    });
  } catch (err) {
    // The key is this scheduling's alone, and stored only by a send that took effect: a mismatch means sent before.
    if (!isChronicleError(err, 'IDEMPOTENCY_MISMATCH')) {
      // Anything but a business refusal (a missing handler mid-deploy, a policy, a store down) may pass: held, retried.
      if (!isRefusal(err)) throw err;
      outcome = 'refused';
      error = errorOf(err);
    }
  }
  const data: ScheduleFiredData = {
    key,
    scheduled: version,
    outcome,
    ...(error && { error: { code: error.code!, message: error.message } }),
  };
  try {
    await eventStore.append(
      streamId,
      [{ type: SCHEDULE_FIRED, data, metadata: { correlationId, causationId: last.id, actor: principal.id } }],
      { expectedVersion: version },
    );
  } catch (err) {
    // A cancel or reschedule came after the send: it stands, and this firing needs no record of its own.
    if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
  }
  return error ? { fired: true, outcome, error } : { fired: true, outcome };
}
