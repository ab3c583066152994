// The decision handler's memory of folded models: state and the position it covers, per (query, evolve, initial
// state), LRU-evicted.
import type { Query, QueryItem } from './event-store.js';

/** A model's state folded over every matching event up to `position`. */
export type FoldedModel = { state: unknown; position: number };

type Evolve = (state: never, event: never) => unknown;

// Built on every attempt for every model, so by concatenation rather than JSON of a mapped copy. Tags cannot hold
// control characters (assertTag), so \u0001 joins them and \u0002 stands for "not given"; a type may hold anything,
// so each is written as JSON, which escapes them and delimits itself.
const NOT_GIVEN = '\u0002';

/** An item's key (of a normalized item): the same types and tags in another order give the same key. */
export function itemKey(item: QueryItem): string {
  const { types, tags } = item;
  const typesKey =
    types === undefined
      ? NOT_GIVEN
      : types.length === 1
        ? JSON.stringify(types[0])
        : types
            .map((t) => JSON.stringify(t))
            .sort()
            .join(',');
  const tagsKey = tags === undefined ? NOT_GIVEN : tags.length === 1 ? tags[0] : [...tags].sort().join('\u0001');
  return `${typesKey}\u0000${tagsKey}`;
}

/** A query's key from its items' keys: the same items in another order, or repeated, give the same key. */
export function queryKey(itemKeys: readonly string[]): string {
  return itemKeys.length === 1 ? itemKeys[0] : [...new Set(itemKeys)].sort().join('\u0003');
}

/**
 * Folded states keyed by the model's canonical query, its evolve function and its initial state: one evolve over one
 * query from one start always folds to the same state, whichever command built the model object.
 */
export class DecisionCache {
  // Per evolve function, then by query; the flat map gives recency order (least recently used first).
  private readonly ids = new WeakMap<Evolve, number>();
  private readonly starts = new WeakMap<object, string>();
  private readonly entries = new Map<string, FoldedModel>();
  private nextId = 0;

  constructor(private readonly size: number) {}

  /**
   * The key of a model from its query's key, its evolve function and its initial state: one evolve over one query folds
   * to one state only from one start. The initial state counts by its JSON, so a factory that builds a fresh object per
   * command still finds its folds (an initial state is data: a non-empty Map or Set in it would read as `{}`).
   */
  key(query: string, evolve: Evolve, initialState: unknown): string {
    return `${this.idOf(evolve)}:${this.startOf(initialState)}:${query}`;
  }

  private idOf(evolve: Evolve): number {
    let id = this.ids.get(evolve);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(evolve, id);
    }
    return id;
  }

  // JSON.stringify of a constant initial state is kept per object; undefined and functions have no JSON.
  private startOf(initialState: unknown): string {
    if (typeof initialState !== 'object' || initialState === null) return `${typeof initialState}:${String(initialState)}`;
    let json = this.starts.get(initialState);
    if (json === undefined) {
      try {
        json = JSON.stringify(initialState) ?? '';
      } catch {
        // A cycle or a BigInt: this object alone is that start.
        json = `#${this.nextId++}`;
      }
      this.starts.set(initialState, json);
    }
    return json;
  }

  get(key: string): FoldedModel | undefined {
    return this.entries.get(key);
  }

  /** Keeps the furthest of what is cached and `folded` (concurrent reads can finish out of order), as most recent. */
  set(key: string, folded: FoldedModel): void {
    if (this.size <= 0) return;
    const current = this.entries.get(key);
    const keep = current !== undefined && current.position > folded.position ? current : folded;
    this.entries.delete(key);
    this.entries.set(key, keep);
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value as string);
  }
}
