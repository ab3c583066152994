// An event store that counts what the decision handlers ask of it: conditional appends, and those refused because an
// event they read had changed (a conflict, which the handler answers by reading again and deciding again).
import { type AppendManyOptions, type AppendResult, type EventStore, isChronicleError, type TaggedEvent } from 'chronicle-es';

export type ConflictCount = {
  /** Tagged appends carrying a condition. */
  conditional: number;
  /** Those refused with CONCURRENCY_CONFLICT. */
  conflicts: number;
  /** The `after` of each conditional append: the head its decision was made at. */
  decidedAt: number[];
};

/**
 * `store`, counting its conditional appends. With `withoutConditions`, it drops every condition instead: the
 * store then checks nothing a decision read, which is how a test shows the condition is what keeps a race exact.
 */
export function countConflicts(
  store: EventStore,
  { withoutConditions = false } = {},
): { store: EventStore; count: ConflictCount } {
  const count: ConflictCount = { conditional: 0, conflicts: 0, decidedAt: [] };
  const append = async (...args: unknown[]): Promise<AppendResult | AppendResult[]> => {
    const [first, options] = args as [unknown, AppendManyOptions | undefined];
    if (!Array.isArray(first) || options?.condition === undefined) return (store.append as (...a: unknown[]) => never)(...args);
    const events = first as TaggedEvent[];
    count.conditional++;
    count.decidedAt.push(options.condition.after ?? 0);
    try {
      return await store.append(events, withoutConditions ? { ...options, condition: undefined } : options);
    } catch (err) {
      if (isChronicleError(err, 'CONCURRENCY_CONFLICT')) count.conflicts++;
      throw err;
    }
  };
  return { store: { ...store, append: append as EventStore['append'] }, count };
}
