// Carries out the control requests (rebuild, retry, skip) other processes leave in the read store for the
// projections running here: the CLI does not know the app's handlers, so the projector that runs a projection is the
// one to act on it, and taking a request is a compare-and-set, so two projectors never both carry one out.
import { controlError } from './control-requests.js';
import type { ControlAction, ControlRequest, ProjectionControl } from './projection-store.js';

/** What the poll needs from the projector: who it is, which projections it runs now, and the operations. */
export type ControlTarget = {
  worker: string;
  /** Whether the projection runs here now (with leases: this worker holds it). */
  runsHere(projection: string): boolean;
  run(action: ControlAction, projection: string): Promise<void>;
};

export class ControlPoll {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private polling: Promise<void> = Promise.resolve();
  // Taken here and still being carried out: a rebuild outlives many polls.
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly control: ProjectionControl,
    private readonly intervalMs: number,
    private readonly target: ControlTarget,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops polling; requests being carried out settle as their operation does (a stopped projector fails them). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.polling;
    await Promise.all(this.inFlight);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => this.schedule());
    }, this.intervalMs);
    // Polling alone must not keep a process alive.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let pending: ControlRequest[];
    try {
      pending = await this.control.pending();
    } catch {
      // The store being unreachable fails nothing here; the next poll tries again and the requester times out.
      return;
    }
    for (const request of pending) {
      if (!this.running || !this.target.runsHere(request.projection)) continue;
      let taken = false;
      try {
        taken = await this.control.take(request.id, this.target.worker);
      } catch {
        taken = false;
      }
      if (taken) this.carryOut(request);
    }
  }

  private carryOut(request: ControlRequest): void {
    const done = this.target
      .run(request.action, request.projection)
      .then(
        () => this.control.finish(request.id),
        (err: unknown) => this.control.finish(request.id, controlError(err)),
      )
      // The requester sees a request that never settles as stalled; nothing more can be done from here.
      .catch(() => {})
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}
