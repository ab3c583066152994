// Which leases a worker should hold: an equal share of the projections among the live workers, preferring the ones
// rendezvous hashing gives it, so that workers starting together mostly reach for different projections and a worker
// that joins is handed the projections it would own anyway.
import type { Lease, WorkerInfo } from './projection-store.js';

export type LeasePlanInput = {
  worker: string;
  projections: readonly string[];
  /** The projections this worker holds now. */
  held: ReadonlySet<string>;
  /** Every lease the store keeps. */
  leases: readonly Lease[];
  /** The workers alive now, as the heartbeat returned them. */
  live: readonly WorkerInfo[];
  /** The store's clock, in ms, when `live` was read. */
  now: number;
};

export type LeasePlan = {
  /** The most projections one worker holds: ceil(projections / live workers). */
  share: number;
  /** Held projections to give up so that the others get their share, least preferred first. */
  release: string[];
  /** Projections free (never held, released, expired, or already this worker's) to take, best first, up to the share. */
  acquire: string[];
  /**
   * In how many ms something this worker waits for expires, to try again right then: with room left, the soonest lease
   * another worker holds; with free projections beyond the room, the soonest heartbeat of another worker (its death
   * grows the share).
   */
  nextExpiryMs: number | undefined;
};

/** Plans one round of a worker's leases. */
export function planLeases(input: LeasePlanInput): LeasePlan {
  const { worker, projections, held, now } = input;
  const workers = [...new Set([worker, ...input.live.map((w) => w.id)])];
  const share = Math.ceil(projections.length / workers.length);
  const rank = new Map(projections.map((p) => [p, preference(worker, workers, p)]));
  const best = (a: string, b: string) => rank.get(b)! - rank.get(a)!;

  const holding = projections.filter((p) => held.has(p)).sort(best);
  const release = holding.slice(share).reverse();
  const room = share - (holding.length - release.length);

  const leaseOf = new Map(input.leases.map((l) => [l.projection, l]));
  const free: string[] = [];
  let nextExpiryMs: number | undefined;
  const soonest = (left: number) => {
    if (left > 0) nextExpiryMs = Math.min(nextExpiryMs ?? left, left);
  };
  for (const p of projections) {
    if (held.has(p)) continue;
    const lease = leaseOf.get(p);
    const left = lease ? Date.parse(lease.expiresAt) - now : 0;
    if (!lease || lease.owner === worker || !(left > 0)) free.push(p);
    else if (room > 0) soonest(left);
  }
  if (free.length > room) for (const w of input.live) if (w.id !== worker) soonest(Date.parse(w.expiresAt) - now);
  return { share, release, acquire: free.sort(best).slice(0, Math.max(0, room)), nextExpiryMs };
}

// Projections the hash assigns to this worker among the live ones come first; then the rest by this worker's score.
function preference(worker: string, workers: readonly string[], projection: string): number {
  const mine = score(worker, projection);
  const assigned = workers.every((w) => w === worker || score(w, projection) < mine);
  return (assigned ? 2 ** 32 : 0) + mine;
}

// FNV-1a: cheap, stable across processes, and spread enough for a handful of names.
function score(worker: string, projection: string): number {
  let h = 0x811c9dc5;
  const key = `${worker}\n${projection}`;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
