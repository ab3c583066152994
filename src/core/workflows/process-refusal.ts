// A refused command is recorded as an event on the process's own stream before the process's rule for it runs, under
// an idempotency key derived from the command's, so a replay of the batch records it once — and finds it, so the
// command is not sent again after its refusal was acted on.
import type { Command } from '../command-handler.js';
import type { EventStore, RecordedEvent } from '../event-store.js';

/** A command a process manager sent was refused by a business rule. */
export const COMMAND_REFUSED = 'chronicle.CommandRefused';

/** The data of a CommandRefused event. */
export type CommandRefusedData = {
  /** The process manager's name. */
  process: string;
  /** The correlation key of the process instance. */
  key: string;
  command: Command;
  /** The idempotency key the command was sent with. */
  idempotencyKey: string;
  /** The refusal's ChronicleError code and message. */
  code: string;
  message: string;
  /** The event whose step sent the command. */
  event: { id: string; type: string; streamId: string; position: number };
};

/** The stream a process instance's refusals are recorded on: `chronicle.process-<process>-<key>`. */
export function processStreamId(process: string, key: string): string {
  return `chronicle.process-${process}-${key}`;
}

// The key a refusal is recorded under, from the key its command was sent with.
const recordKey = (idempotencyKey: string) => `${COMMAND_REFUSED}:${idempotencyKey}`;

/**
 * Appends the CommandRefused event of `data` (once per `idempotencyKey`, whatever else changed), caused by `trigger`.
 * @throws INVALID_ARGUMENT a stream id the key makes too long or malformed; STORE_ERROR, CLOSED
 */
export async function recordRefusal(store: EventStore, data: CommandRefusedData, trigger: RecordedEvent): Promise<void> {
  await store.append(
    processStreamId(data.process, data.key),
    [
      {
        type: COMMAND_REFUSED,
        data,
        metadata: { correlationId: trigger.metadata.correlationId ?? trigger.id, causationId: trigger.id },
      },
    ],
    { expectedVersion: 'any', idempotencyKey: recordKey(data.idempotencyKey) },
  );
}

/**
 * The refusal recorded for the command sent under `idempotencyKey`; undefined when none was. One key lookup when
 * there is none (the usual case), a stream read more when there is.
 * @throws INVALID_ARGUMENT a malformed key; STORE_ERROR, CLOSED
 */
export async function findRefusal(store: EventStore, idempotencyKey: string): Promise<CommandRefusedData | undefined> {
  const [stored] = (await store.findIdempotentResult(recordKey(idempotencyKey))) ?? [];
  if (!stored) return undefined;
  const [event] = await store.readStream(stored.streamId, { from: stored.version, limit: 1 });
  if (event?.type !== COMMAND_REFUSED) return undefined;
  return event.data as CommandRefusedData;
}
