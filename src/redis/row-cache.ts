// Rows of one generation this store has read or committed, kept across batches so a projection that reads the rows it
// wrote a moment ago (an order paid after it was created) does not pay a round trip per event. Valid only while the
// generation's commit count is the one it was filled at: every commit, by any process, raises that count, and a batch
// checks it before reading here.

/** What a row cache holds of one generation: JSON, or null for a row known to be missing. */
export class RowCache {
  private readonly rows = new Map<string, string | null>();
  // The generation's commit count the rows are valid at; undefined: unknown, nothing is served.
  private label: string | undefined;

  constructor(private readonly maxRows: number) {}

  /** Called with the commit count a batch read before running: rows kept at another count are dropped. */
  validate(commits: string): void {
    if (this.label === commits) return;
    this.rows.clear();
    this.label = commits;
  }

  /** The count the rows are valid at now; pass it back to fill(). */
  get at(): string | undefined {
    return this.label;
  }

  /** The cached row (and marks it recently used), or undefined when not cached. */
  get(key: string): string | null | undefined {
    const value = this.rows.get(key);
    if (value === undefined) return undefined;
    this.rows.delete(key);
    this.rows.set(key, value);
    return value;
  }

  /**
   * Keeps rows read from Redis while the cache was valid at `at`. A read that was sent before a commit of this store
   * and answered after it may hold the older row: it is kept only if no commit moved the label meanwhile.
   */
  fill(at: string | undefined, entries: Iterable<[string, string | null]>): void {
    if (at === undefined || at !== this.label) return;
    for (const [key, value] of entries) this.put(key, value);
  }

  /** A batch validated at `from` committed `entries`: they are the rows at the next count. */
  committed(from: string, entries: Iterable<[string, string | null]>): void {
    if (this.label !== from) {
      this.invalidate();
      return;
    }
    for (const [key, value] of entries) this.put(key, value);
    this.label = String(Number(from) + 1);
  }

  /** Forgets everything (a batch failed, or wrote without the count being checked). */
  invalidate(): void {
    this.rows.clear();
    this.label = undefined;
  }

  private put(key: string, value: string | null): void {
    if (this.maxRows === 0) return;
    this.rows.delete(key);
    this.rows.set(key, value);
    if (this.rows.size > this.maxRows) this.rows.delete(this.rows.keys().next().value!);
  }
}
