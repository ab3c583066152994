// The idempotency-key wrapper every command handler shares: run the command under its key, and answer a repeat or a
// lost race with the first status.
import type { Command, CommandContext, CommandResult } from './command-handler.js';
import type { AppendResult, EventStore } from './event-store.js';
import { requestFingerprint } from './request-fingerprint.js';

/** One run of a command under its store key (undefined without one) and request fingerprint. */
export type IdempotentAttempt = (key: string | undefined, fingerprint: string | undefined) => Promise<CommandResult>;

/**
 * Runs `attempt` under the command's idempotency key, prefixed by the command type. A key already stored writes nothing:
 * the store answers the attempt's append with the stored results, and an attempt that fails instead (its decision is a
 * refusal now) is answered with `answer(results)`.
 * @throws IDEMPOTENCY_MISMATCH the key was used with another command or other data; whatever `attempt` throws
 */
export async function runIdempotent(
  store: Pick<EventStore, 'findIdempotentResult'>,
  command: Command,
  context: CommandContext,
  attempt: IdempotentAttempt,
  answer: (results: readonly AppendResult[]) => CommandResult | Promise<CommandResult>,
): Promise<CommandResult> {
  const key = context.idempotencyKey === undefined ? undefined : `${command.type}:${context.idempotencyKey}`;
  if (key === undefined) return attempt(undefined, undefined);
  // The same key with another command (or other data) is refused: answering with the first result would tell
  // the client a write happened that never did.
  const fingerprint = requestFingerprint(command.type, command.data);
  // No lookup first: the store checks the key inside the append, atomically, and answers a stored key with its
  // results (AppendResult.duplicate) without writing. A repeat whose decision has since become a refusal (the state
  // moved on) throws below, and the look after the failure answers it with the first status.
  try {
    return await attempt(key, fingerprint);
  } catch (err) {
    // The first request with this key may have committed after our lookup (a client retrying on a timeout):
    // then this one failed only because that one succeeded, and the answer is that one's status.
    const committed = await store.findIdempotentResult(key, fingerprint);
    if (committed) return answer(committed);
    throw err;
  }
}
