// The in-memory twin of a read store: same contract as the SQLite one, no I/O; for tests.
import { ChronicleError } from '../errors.js';
import { createInMemoryControl } from './control-requests.js';
import { InMemoryTable } from './in-memory-table.js';
import type {
  ApplyWork,
  Fence,
  Lease,
  ProjectionFailure,
  ProjectionLeases,
  ProjectionRecord,
  ProjectionStore,
  SkippedEvent,
  WorkerInfo,
} from './projection-store.js';
import { assertReadModelName } from './read-model-name.js';

/** What in-memory handlers write with: `tx.table('orders')` is that table of the generation being written. */
export type InMemoryReadTx = {
  table<V = any, K = string>(name: string): InMemoryTable<V, K>;
};

/** What queries read with: the committed tables of the active generation. */
export type InMemoryReader = {
  table<V = any, K = string>(name: string): ReadonlyMap<K, V>;
};

export type InMemoryReadStore = ProjectionStore<InMemoryReadTx, InMemoryReader>;

type Tables = Map<string, Map<unknown, unknown>>;

export type InMemoryReadStoreOptions = {
  /**
   * Keep projection leases (`store.leases`), so projectors sharing this store become workers that each hold some
   * projections, and fence every write. Off by default: projectors then share it by compare-and-set alone.
   */
  leases?: boolean;
  /** The store's clock in ms, for lease and heartbeat expiry (tests move it by hand). Default Date.now. */
  clock?: () => number;
};

/** Creates a read store that keeps every projection's tables in memory. */
export function createInMemoryReadStore(options: InMemoryReadStoreOptions = {}): InMemoryReadStore {
  const clock = options.clock ?? Date.now;
  const records = new Map<string, ProjectionRecord>();
  const lastGeneration = new Map<string, number>();
  const generations = new Map<string, Tables>();
  const skips = new Map<string, SkippedEvent[]>();
  // A lease stays after it expires or is released, so the next holder's token is higher than every earlier one.
  const leaseRows = new Map<string, { owner: string; token: number; expiresAt: number; released: boolean }>();
  const workers = new Map<string, { lastSeen: number; expiresAt: number }>();
  let closed = false;

  const key = (name: string, generation: number) => `${name}#${generation}`;
  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', 'read store is closed');
  };
  const copy = (r: ProjectionRecord): ProjectionRecord => structuredClone(r);

  // Runs `work` against overlays and merges them only if it succeeds: a throw leaves nothing behind.
  async function transaction(name: string, generation: number, work: ApplyWork<InMemoryReadTx> | undefined): Promise<() => void> {
    let tables = generations.get(key(name, generation));
    if (!tables) {
      tables = new Map();
      generations.set(key(name, generation), tables);
    }
    const committedTables = tables;
    const touched = new Map<string, InMemoryTable<any, any>>();
    const tx: InMemoryReadTx = {
      table(table) {
        let t = touched.get(table);
        if (!t) {
          assertReadModelName('table', table);
          let committed = committedTables.get(table);
          if (!committed) {
            committed = new Map();
            committedTables.set(table, committed);
          }
          t = new InMemoryTable(committed);
          touched.set(table, t);
        }
        return t;
      },
    };
    if (work) await work(tx);
    return () => {
      for (const t of touched.values()) t.commit();
    };
  }

  function recordFor(name: string): ProjectionRecord {
    let r = records.get(name);
    if (!r) {
      r = { name, version: 0, generation: 0, position: 0 };
      records.set(name, r);
    }
    return r;
  }

  // The checkpoint of `generation` (active or rebuilding), checked against `after` when given.
  function writable(name: string, generation: number, after: number | undefined): { position: number } {
    const r = records.get(name);
    const target =
      r && generation > 0 && r.generation === generation ? r : r?.rebuild?.generation === generation ? r.rebuild : undefined;
    if (!target) {
      throw new ChronicleError('CONCURRENCY_CONFLICT', `projection ${name}: generation ${generation} is not being written`, {
        details: { projection: name, generation },
      });
    }
    if (after !== undefined && target.position !== after) {
      throw new ChronicleError(
        'CONCURRENCY_CONFLICT',
        `projection ${name}: checkpoint of generation ${generation} is ${target.position}, not ${after}`,
        { details: { projection: name, generation, expected: after, actual: target.position } },
      );
    }
    return target;
  }

  // Checked where the write commits (after any awaited work), so a lease taken over meanwhile refuses it.
  function assertFence(name: string, fence: Fence | undefined): void {
    if (!fence || !options.leases) return;
    const lease = leaseRows.get(name);
    if (!lease || lease.released || lease.owner !== fence.owner || lease.token !== fence.token) {
      throw new ChronicleError('LEASE_LOST', `projection ${name}: the lease of ${fence.owner} (token ${fence.token}) is gone`, {
        details: { projection: name, owner: lease?.owner, token: lease?.token, fence },
      });
    }
  }

  const assertTtl = (ttlMs: number) => {
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new ChronicleError('INVALID_ARGUMENT', 'ttlMs must be positive');
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  const leases: ProjectionLeases = {
    async heartbeat(worker, ttlMs) {
      assertOpen();
      assertTtl(ttlMs);
      const now = clock();
      workers.set(worker, { lastSeen: now, expiresAt: now + ttlMs });
      const live: WorkerInfo[] = [];
      for (const [id, w] of workers) {
        if (w.expiresAt <= now) workers.delete(id);
        else live.push({ id, lastSeen: iso(w.lastSeen), expiresAt: iso(w.expiresAt) });
      }
      return live;
    },
    async acquire(projection, worker, ttlMs) {
      assertOpen();
      assertTtl(ttlMs);
      const now = clock();
      const lease = leaseRows.get(projection);
      if (lease && !lease.released && lease.owner === worker) {
        lease.expiresAt = now + ttlMs;
      } else if (!lease || lease.released || lease.expiresAt <= now) {
        leaseRows.set(projection, { owner: worker, token: (lease?.token ?? 0) + 1, expiresAt: now + ttlMs, released: false });
      } else {
        return undefined;
      }
      const held = leaseRows.get(projection)!;
      return { projection, owner: held.owner, token: held.token, expiresAt: iso(held.expiresAt) };
    },
    async release(projection, fence) {
      assertOpen();
      const lease = leaseRows.get(projection);
      if (!lease || lease.released || lease.owner !== fence.owner || lease.token !== fence.token) return;
      lease.released = true;
      lease.expiresAt = Math.min(lease.expiresAt, clock());
    },
    async list() {
      assertOpen();
      return [...leaseRows].map(
        ([projection, l]): Lease => ({ projection, owner: l.owner, token: l.token, expiresAt: iso(l.expiresAt) }),
      );
    },
  };

  return {
    ...(options.leases && { leases }),
    control: createInMemoryControl(clock, assertOpen),
    async load(name) {
      assertOpen();
      const r = records.get(name);
      return r && copy(r);
    },
    async list() {
      assertOpen();
      return [...records.values()].map(copy);
    },
    async apply(name, generation, work, checkpoint, after, fence) {
      assertOpen();
      if (after !== undefined && !(checkpoint >= after)) {
        throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: checkpoint ${checkpoint} is before ${after}`);
      }
      assertFence(name, fence);
      writable(name, generation, after);
      const commit = await transaction(name, generation, work);
      assertOpen();
      // Checked again: another apply may have committed, or the lease passed on, while `work` awaited.
      assertFence(name, fence);
      writable(name, generation, after).position = checkpoint;
      commit();
    },
    async beginGeneration(name, version, setup, fence) {
      assertOpen();
      assertReadModelName('projection', name);
      assertFence(name, fence);
      const generation = (lastGeneration.get(name) ?? 0) + 1;
      let commit: () => void;
      try {
        commit = await transaction(name, generation, setup as ApplyWork<InMemoryReadTx> | undefined);
        assertFence(name, fence);
      } catch (err) {
        generations.delete(key(name, generation));
        throw err;
      }
      const r = recordFor(name);
      if (r.rebuild) generations.delete(key(name, r.rebuild.generation));
      lastGeneration.set(name, generation);
      r.rebuild = { generation, version, position: 0 };
      commit();
      return generation;
    },
    async swapGeneration(name, generation, replacing, fence) {
      assertOpen();
      assertFence(name, fence);
      const r = records.get(name);
      if (!r?.rebuild || r.rebuild.generation !== generation) {
        throw new ChronicleError('CONCURRENCY_CONFLICT', `projection ${name}: generation ${generation} is not being rebuilt`, {
          details: { projection: name, generation },
        });
      }
      if (replacing !== undefined && r.generation !== replacing) {
        throw new ChronicleError(
          'CONCURRENCY_CONFLICT',
          `projection ${name}: generation ${r.generation} is active, not ${replacing}`,
          {
            details: { projection: name, generation, expected: replacing, actual: r.generation },
          },
        );
      }
      if (r.position > r.rebuild.position) {
        throw new ChronicleError(
          'CONCURRENCY_CONFLICT',
          `projection ${name}: the active checkpoint ${r.position} is past the rebuild's ${r.rebuild.position}`,
          { details: { projection: name, generation, active: r.position, rebuild: r.rebuild.position } },
        );
      }
      generations.delete(key(name, r.generation));
      r.generation = r.rebuild.generation;
      r.version = r.rebuild.version;
      r.position = r.rebuild.position;
      r.rebuild = undefined;
      r.failure = undefined;
    },
    async setFailure(name, failure, fence) {
      assertOpen();
      assertFence(name, fence);
      const r = recordFor(name);
      r.failure = failure && { ...failure };
    },
    async skip(name, generation, failure: ProjectionFailure, fence) {
      assertOpen();
      assertFence(name, fence);
      if (failure.eventId === undefined || failure.position === undefined || failure.type === undefined) {
        throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: the failure names no event to skip`);
      }
      writable(name, generation, failure.position - 1).position = failure.position;
      const list = skips.get(name) ?? [];
      list.push({
        ...failure,
        eventId: failure.eventId,
        position: failure.position,
        type: failure.type,
        skippedAt: new Date().toISOString(),
      });
      skips.set(name, list);
      recordFor(name).failure = undefined;
    },
    async skipped(name) {
      assertOpen();
      return structuredClone(skips.get(name) ?? []);
    },
    reader(name) {
      return {
        table(table) {
          assertOpen();
          assertReadModelName('table', table);
          const r = records.get(name);
          if (!r || r.generation === 0) {
            throw new ChronicleError('NOT_FOUND', `projection ${name} has no tables yet`, { details: { projection: name } });
          }
          // An unknown table reads as empty: in memory, tables exist from their first write.
          return (generations.get(key(name, r.generation))?.get(table) ?? new Map()) as ReadonlyMap<any, any>;
        },
      };
    },
    async close() {
      closed = true;
    },
  };
}
