// The metadata a command handler stamps on the events it writes: who asked, in answer to what.
import type { CommandContext } from './command-handler.js';
import type { EventMetadata, NewEvent } from './event-store.js';

/** Correlation, causation, actor, command type and (when there are) trace context and tenant of one dispatch. */
export function commandMetadata(command: { type: string }, context: CommandContext): Partial<EventMetadata> {
  const metadata: Partial<EventMetadata> = {
    correlationId: context.correlationId,
    causationId: context.causationId,
    actor: context.principal?.id,
    command: command.type,
  };
  // Only when present: events written without a trace keep the metadata they always had.
  if (context.traceparent !== undefined) metadata.traceparent = context.traceparent;
  if (context.tenantId !== undefined) metadata.tenantId = context.tenantId;
  return metadata;
}

/** The events with the dispatch's metadata under their own (an event's own keys win). */
export function withMetadata<E extends NewEvent>(events: readonly E[], metadata: Partial<EventMetadata>): E[] {
  // Events without their own metadata share one object, so the store encodes it once per batch.
  return events.map((e) => ({ ...e, metadata: e.metadata === undefined ? metadata : { ...metadata, ...e.metadata } }));
}
