// A decider's events placed in their stream, as a decision over tagged events returns them.
import type { TaggedEvent } from 'chronicle-es';

/** A decider's event placed in its stream: still typed as the decider's, and a TaggedEvent to append. */
export type InStream<E extends { type: string; data: unknown }> = E & TaggedEvent;

/** `events` in stream `streamId`, each with `tags` (if any) besides. */
export function inStream<E extends { type: string; data: unknown }>(
  streamId: string,
  events: readonly E[],
  tags?: readonly string[],
): InStream<E>[] {
  return events.map((event) => ({ ...event, streamId, ...(tags !== undefined && tags.length > 0 && { tags }) }));
}
