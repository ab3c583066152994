// A projector's turn among the workers sharing one read store: it heartbeats, takes leases up to its share, renews
// them every third of their ttl, releases its surplus when more workers appear, and gives a lease up at once (stopping
// the projection's loops) when a renewal is refused or fails, or its ttl runs out without one.
//
// Why a lease row with a fencing token, and not an advisory lock held on a dedicated session:
// - A lock says who holds a projection *now*; it cannot stop a write from a worker that held it a moment ago. A worker
//   paused mid-batch (GC, a slow handler, a partition) keeps going when it wakes and commits before it can learn that
//   its session died and the lock moved. The fencing token is checked by the store inside the very transaction that
//   writes the batch and its checkpoint, so once another worker holds the lease, the old one can never commit again,
//   whatever it believes. With a lock, the only guard left would be the checkpoint's compare-and-set.
// - A lease lives in the read store, where the writes it guards are: the same row-level check works on PostgreSQL, in
//   memory, or any store, and the event store and the read store may be different databases. An advisory lock exists
//   only on PostgreSQL, only for as long as one connection lives, and a pool cannot hold it: every worker would pin a
//   session per projection, and a lock cannot say which worker holds it, for how long, or hand it over on purpose.
// - Lease rows are data: status shows who holds what and until when; a worker releases its surplus so others get
//   their share; expiry is judged by the store's clock alone, so the workers' clocks never need to agree.
// The cost is a round trip per renewal (every ttl/3 per held projection) and a failover bounded by the ttl: with the
// defaults (3 s), a dead worker's projections move within about 3 s, as this keeper wakes when the lease expires.
import { planLeases } from './lease-plan.js';
import type { Fence, Lease, ProjectionLeases } from './projection-store.js';

export type LeaseKeeperOptions = {
  leases: ProjectionLeases;
  /** This worker's id. */
  worker: string;
  projections: readonly string[];
  ttlMs: number;
  /** A lease was taken (or came back under a new token): run the projection under `fence`. */
  acquired(name: string, fence: Fence): Promise<void>;
  /** The lease is gone or being given up: stop the projection's loops; resolves once no batch is in flight. */
  lost(name: string): Promise<void>;
};

type Held = { fence: Fence; deadline: ReturnType<typeof setTimeout> | undefined };

// How long after a lease's expiry to try for it, so the store's clock has surely passed it.
const EXPIRY_MARGIN_MS = 25;

const fenceOf = (lease: Lease): Fence => ({ owner: lease.owner, token: lease.token });

export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private round: Promise<void> = Promise.resolve();
  // The store's clock minus this process's, as of the last heartbeat.
  private offsetMs = 0;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** Joins the workers; resolves once the first round of leases is taken and their projections have started. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const started: Promise<void>[] = [];
    this.round = this.tick(started);
    await this.round;
    await Promise.all(started);
  }

  /** Stops taking and renewing, stops every projection held, then releases its leases so others need not wait. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    await this.round;
    const held = [...this.held];
    for (const [name] of held) this.forget(name);
    await Promise.all(held.map(([name, h]) => this.giveUp(name, h.fence)));
    // Leave the live set now, so the others' share grows without waiting for this heartbeat to expire.
    await this.options.leases.heartbeat(this.options.worker, 1).catch(() => {});
  }

  /** Whether this worker holds `name`'s lease, as far as it knows. */
  holds(name: string): boolean {
    return this.held.has(name);
  }

  /** A write under `name`'s lease was refused: forget the lease without releasing it (it is another worker's now). */
  dropped(name: string): void {
    this.forget(name);
  }

  /** The store's clock now, estimated from the last heartbeat, in ms. */
  storeNow(): number {
    return Date.now() + this.offsetMs;
  }

  private async tick(started: Promise<void>[]): Promise<void> {
    const { leases, worker, projections, ttlMs } = this.options;
    let plan: ReturnType<typeof planLeases> | undefined;
    try {
      const live = await leases.heartbeat(worker, ttlMs);
      const received = Date.now();
      const seen = Date.parse(live.find((w) => w.id === worker)?.lastSeen ?? '');
      const now = Number.isFinite(seen) ? seen : received;
      this.offsetMs = now - received;
      const list = await leases.list();
      plan = planLeases({ worker, projections, held: new Set(this.held.keys()), leases: list, live, now });
    } catch {
      // The store did not answer: renew what is held all the same (a renewal that fails gives its lease up), take nothing.
    }
    await this.renew(started);
    if (plan && this.running) {
      for (const name of plan.release) {
        const h = this.held.get(name);
        if (!h) continue;
        this.forget(name);
        // Not awaited: a long batch in flight must not hold up the renewals of the other leases.
        void this.giveUp(name, h.fence).catch(() => {});
      }
      await Promise.all(plan.acquire.map((name) => this.take(name, started)));
    }
    if (!this.running) return;
    const every = ttlMs / 3;
    const soon = plan?.nextExpiryMs;
    const delay = soon === undefined ? every : Math.min(every, soon + EXPIRY_MARGIN_MS);
    this.timer = setTimeout(() => {
      this.round = this.tick([]);
    }, delay);
  }

  private async renew(started: Promise<void>[]): Promise<void> {
    const { leases, worker, ttlMs } = this.options;
    await Promise.all(
      [...this.held].map(async ([name, h]) => {
        const sent = Date.now();
        const lease = await leases.acquire(name, worker, ttlMs).catch(() => undefined);
        if (this.held.get(name) !== h) return;
        if (lease?.token === h.fence.token) {
          this.arm(name, h, sent);
          return;
        }
        this.forget(name);
        void this.options.lost(name).catch(() => {});
        // Back under a new token: another worker held it in between, so start over from the stored checkpoint.
        if (lease && this.running) this.hold(name, lease, sent, started);
      }),
    );
  }

  private async take(name: string, started: Promise<void>[]): Promise<void> {
    const { leases, worker, ttlMs } = this.options;
    const sent = Date.now();
    const lease = await leases.acquire(name, worker, ttlMs).catch(() => undefined);
    if (!lease || this.held.has(name)) return;
    // Stopped while asking: hand it straight back.
    if (!this.running) await leases.release(name, fenceOf(lease)).catch(() => {});
    else this.hold(name, lease, sent, started);
  }

  private hold(name: string, lease: Lease, sent: number, started: Promise<void>[]): void {
    const h: Held = { fence: fenceOf(lease), deadline: undefined };
    this.held.set(name, h);
    this.arm(name, h, sent);
    // A projection that cannot start records that itself; nothing here is left to reject.
    started.push(this.options.acquired(name, h.fence).catch(() => {}));
  }

  // The store keeps the lease until `sent` + ttl at the earliest (it was renewed after the request left): past that,
  // with no renewal in between (a store that hangs), another worker may hold it, so stop writing under it.
  private arm(name: string, h: Held, sent: number): void {
    clearTimeout(h.deadline);
    h.deadline = setTimeout(
      () => {
        if (this.held.get(name) !== h) return;
        this.forget(name);
        void this.options.lost(name).catch(() => {});
      },
      Math.max(0, sent + this.options.ttlMs - Date.now()),
    );
    h.deadline.unref?.();
  }

  private forget(name: string): void {
    clearTimeout(this.held.get(name)?.deadline);
    this.held.delete(name);
  }

  private async giveUp(name: string, fence: Fence): Promise<void> {
    await this.options.lost(name);
    await this.options.leases.release(name, fence).catch(() => {});
  }
}
