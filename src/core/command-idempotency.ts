// The idempotency-key wrapper every command handler shares: look the key up, run the command, and answer a lost race
// with the winner's status.
import type { Command, CommandContext, CommandResult } from './command-handler.js';
import type { AppendResult, EventStore } from './event-store.js';
import { requestFingerprint } from './request-fingerprint.js';

/** One run of a command under its store key (undefined without one) and request fingerprint. */
export type IdempotentAttempt = (key: string | undefined, fingerprint: string | undefined) => Promise<CommandResult>;

/**
 * Runs `attempt` under the command's idempotency key, prefixed by the command type; a key already stored answers with
 * `answer(results)` and nothing runs.
 * @throws IDEMPOTENCY_MISMATCH the key was used with another command or other data; whatever `attempt` throws
 */
export async function runIdempotent(
  store: EventStore,
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
  const earlier = await store.findIdempotentResult(key, fingerprint);
  if (earlier) return answer(earlier);
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
