// A Map-like table inside an in-memory read-store transaction: writes go to an overlay that is
// merged on commit, and rows read are copies, so a rolled-back batch leaves no trace.

const DELETED: unique symbol = Symbol('deleted');

/** One logical table as a handler sees it in the in-memory read store. Rows must be structured-cloneable data. */
export class InMemoryTable<V = any, K = string> implements Iterable<[K, V]> {
  private readonly overlay = new Map<K, V | typeof DELETED>();

  constructor(private readonly committed: Map<K, V>) {}

  get(key: K): V | undefined {
    if (this.overlay.has(key)) {
      const v = this.overlay.get(key);
      return v === DELETED ? undefined : (v as V);
    }
    if (!this.committed.has(key)) return undefined;
    // Copy on read so in-place edits of a row land in the overlay, not in committed state.
    const copy = structuredClone(this.committed.get(key) as V);
    this.overlay.set(key, copy);
    return copy;
  }

  has(key: K): boolean {
    if (this.overlay.has(key)) return this.overlay.get(key) !== DELETED;
    return this.committed.has(key);
  }

  set(key: K, value: V): this {
    this.overlay.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    const had = this.has(key);
    this.overlay.set(key, DELETED);
    return had;
  }

  clear(): void {
    for (const key of this.keys()) this.overlay.set(key, DELETED);
  }

  get size(): number {
    let n = 0;
    for (const _ of this.keys()) n++;
    return n;
  }

  *keys(): IterableIterator<K> {
    for (const key of this.committed.keys()) {
      if (this.overlay.get(key) !== DELETED) yield key;
    }
    for (const [key, v] of this.overlay) {
      if (v !== DELETED && !this.committed.has(key)) yield key;
    }
  }

  *values(): IterableIterator<V> {
    for (const key of [...this.keys()]) yield this.get(key) as V;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const key of [...this.keys()]) yield [key, this.get(key) as V];
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Merges the overlay into committed state; called once by the store when the transaction commits. */
  commit(): void {
    for (const [key, v] of this.overlay) {
      if (v === DELETED) this.committed.delete(key);
      else this.committed.set(key, v);
    }
    this.overlay.clear();
  }
}
