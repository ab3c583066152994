// Pending waitForPosition calls, settled as checkpoints move: from the apply path, when a checkpoint written by another
// projector on the same read store is reloaded, or when stored checkpoints are polled (projections not run here).
import { ChronicleError } from '../errors.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks a wait's position and timeout. @throws INVALID_ARGUMENT */
export function assertWaitArguments(position: number, timeoutMs: number): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'position must be a non-negative integer');
  }
  // Node turns a timer above 2^31-1 ms into 1 ms.
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS) {
    throw new ChronicleError('INVALID_ARGUMENT', `timeoutMs must be between 0 and ${MAX_TIMER_MS}`);
  }
}

type Waiter = {
  names: readonly string[];
  position: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

/** Tracks waiters on projection checkpoints; the projector calls `changed`/`failed` as positions move. */
export class PositionWaiters {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly positionOf: (name: string) => number) {}

  /** Resolves once every name's checkpoint is ≥ `position`. @throws TIMEOUT after `timeoutMs` */
  wait(names: readonly string[], position: number, timeoutMs: number): Promise<void> {
    if (this.reached(names, position)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        names,
        position,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const behind = Object.fromEntries(
            names.filter((n) => this.positionOf(n) < position).map((n) => [n, this.positionOf(n)]),
          );
          reject(
            new ChronicleError('TIMEOUT', `projections did not reach position ${position} within ${timeoutMs} ms`, {
              details: { position, timeoutMs, behind },
            }),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Whether some pending wait involves a projection `matches` accepts. */
  waitsFor(matches: (name: string) => boolean): boolean {
    for (const w of this.waiters) if (w.names.some(matches)) return true;
    return false;
  }

  /** Re-checks the waiters that involve `name` after its checkpoint moved. */
  changed(name: string): void {
    for (const w of this.waiters) {
      if (w.names.includes(name) && this.reached(w.names, w.position)) this.settle(w).resolve();
    }
  }

  /** Rejects waiters that need `name` past where it stopped. */
  failed(name: string, error: () => Error): void {
    for (const w of this.waiters) {
      if (w.names.includes(name) && this.positionOf(name) < w.position) this.settle(w).reject(error());
    }
  }

  /** Rejects every waiter. */
  rejectAll(error: () => Error): void {
    for (const w of this.waiters) this.settle(w).reject(error());
  }

  private settle(w: Waiter): Waiter {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    return w;
  }

  private reached(names: readonly string[], position: number): boolean {
    return names.every((n) => this.positionOf(n) >= position);
  }
}
