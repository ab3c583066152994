// Name → definition lookup over a bus, refreshed lazily so messages registered after the plugin still count.
type Named = { readonly name: string };

/** Finds definitions by name without asking the bus for its whole list on every request. */
export type MessageIndex<D extends Named> = {
  get(name: string): D | undefined;
  all(): readonly D[];
};

const REFRESH_MS = 1000;

/** Indexes `list()`; a miss re-reads it at most once a second, so unknown names cannot make every request pay. */
export function createMessageIndex<D extends Named>(list: () => readonly D[]): MessageIndex<D> {
  let byName = new Map<string, D>();
  let refreshedAt = Number.NEGATIVE_INFINITY;
  const refresh = () => {
    byName = new Map(list().map((d) => [d.name, d]));
    refreshedAt = performance.now();
  };
  return {
    get(name) {
      const found = byName.get(name);
      if (found !== undefined || performance.now() - refreshedAt < REFRESH_MS) return found;
      refresh();
      return byName.get(name);
    },
    all() {
      refresh();
      return [...byName.values()];
    },
  };
}
