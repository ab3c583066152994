// What the append client needs to know about conditions to form groups: the condition as append_events takes it, the
// names of the condition locks a call takes (the same names append_events hashes), and whether a call's condition
// would see an earlier append of its group.
import { indexTags, matchesQuery, type PreparedEvent, type Query, type QueryItem } from 'chronicle-es';

/** A condition as the client sends it: items that can match some event, and the position they must not match after. */
export type SqlCondition = { items: QueryItem[]; after: number };

// Event types are identifiers (store-kit checks them), so a query type that is empty or holds a control character can
// match no event; dropping it keeps such strings out of append_events' separator-joined text parameters.
const IMPOSSIBLE_TYPE = /^$|[\u0000-\u001f\u007f]/;

/**
 * A normalized condition's items that can match an event (types no event can have dropped, and items left with none);
 * undefined when nothing can match, so the condition holds whatever is stored.
 */
export function sqlCondition(condition: { query: Query; after: number } | undefined): SqlCondition | undefined {
  if (condition === undefined) return undefined;
  const items: QueryItem[] = [];
  for (const item of condition.query) {
    if (item.types === undefined) {
      items.push(item);
      continue;
    }
    const types = item.types.filter((t) => !IMPOSSIBLE_TYPE.test(t));
    if (types.length > 0) items.push(types.length === item.types.length ? item : { ...item, types });
  }
  return items.length === 0 ? undefined : { items, after: condition.after };
}

/** The writes and condition of one call, as lockNames reads them. */
export type LockedCall = {
  writes: ReadonlyArray<{ streamId: string; events: readonly PreparedEvent[] }>;
  condition?: SqlCondition;
};

/**
 * The names of the condition locks append_events takes for `call` (the schema's prefix left out): `g`, `t:<tag>` for
 * each tag of each event (its stream id counts), `y:<type>` for each event type, and the exclusive ones of the
 * condition (`t:<first tag>` per tag item, `y:<type>` per type of a type-only item, `g` for `{}`). Distinct names hash
 * to at most as many keys, so counting names never undercounts the locks.
 */
export function lockNames(call: LockedCall, into = new Set<string>()): Set<string> {
  into.add('g');
  for (const w of call.writes) {
    for (const e of w.events) {
      into.add(`t:${w.streamId}`);
      for (const tag of e.tags) into.add(`t:${tag}`);
      into.add(`y:${e.type}`);
    }
  }
  for (const item of call.condition?.items ?? []) {
    if (item.tags !== undefined) into.add(`t:${item.tags[0]}`);
    else if (item.types !== undefined) for (const t of item.types) into.add(`y:${t}`);
    else into.add('g');
  }
  return into;
}

/**
 * The events of a group being formed, to keep a conditional append out of a group whose earlier appends write an
 * event its query matches (append_events checks a condition against the table only).
 */
export class GroupEvents {
  private readonly events: Array<{ type: string; streamId: string; tags: readonly string[] }> = [];
  // Tags (stream ids included) and types of the events: a query none of whose items names one of them, and that has
  // no `{}` item, matches none of the events without looking at each.
  private readonly tags = new Set<string>();
  private readonly types = new Set<string>();

  /** Adds the events of an append taken into the group. */
  add(writes: LockedCall['writes']): void {
    for (const w of writes) {
      for (const e of w.events) {
        this.events.push({ type: e.type, streamId: w.streamId, tags: e.tags });
        for (const tag of indexTags(w.streamId, e.tags)) this.tags.add(tag);
        this.types.add(e.type);
      }
    }
  }

  /** True when some event of the group matches the condition's query. */
  matches(condition: SqlCondition): boolean {
    if (this.events.length === 0) return false;
    const maybe = condition.items.some((item) =>
      item.tags !== undefined
        ? item.tags.every((t) => this.tags.has(t)) && (item.types === undefined || item.types.some((t) => this.types.has(t)))
        : item.types === undefined || item.types.some((t) => this.types.has(t)),
    );
    return maybe && this.events.some((e) => matchesQuery(e, condition.items));
  }
}
