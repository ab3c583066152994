// The decision handler's memory of folded models: state and the position it covers, per (query, evolve), LRU-evicted.
import type { Query } from './event-store.js';

/** A model's state folded over every matching event up to `position`. */
export type FoldedModel = { state: unknown; position: number };

type Evolve = (state: never, event: never) => unknown;

/** The same query written with items or values in another order is the same model. */
export function canonicalQuery(query: Query): string {
  return JSON.stringify(query.map((item) => [item.types ? [...item.types].sort() : 0, item.tags ? [...item.tags].sort() : 0]));
}

/**
 * Folded states keyed by the model's canonical query and its evolve function: one evolve over one query always folds
 * to the same state, whichever command built the model object.
 */
export class DecisionCache {
  // Per evolve function, then by query; the flat map gives recency order (least recently used first).
  private readonly ids = new WeakMap<Evolve, number>();
  private readonly entries = new Map<string, FoldedModel>();
  private nextId = 0;

  constructor(private readonly size: number) {}

  /** The key of a model; stable for as long as its evolve function lives. */
  key(query: string, evolve: Evolve): string {
    let id = this.ids.get(evolve);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(evolve, id);
    }
    return `${id}:${query}`;
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
