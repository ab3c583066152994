// Reads the stored checkpoints again and again while someone waits on projections this process does not run: there
// is no commit here to learn from, so the read store is the only place their progress shows.
import type { ProjectionRecord, ProjectionStore } from './projection-store.js';

export class CheckpointPoll {
  private polling = false;
  private cancelSleep: (() => void) | undefined;

  /**
   * `needed` says whether anyone still waits (polling stops as soon as not); `seen` gets every record each poll read.
   * A poll that fails is tried again at the next interval: waits time out if the store stays unreachable.
   */
  constructor(
    private readonly store: Pick<ProjectionStore<unknown, unknown>, 'list'>,
    private readonly intervalMs: number,
    private readonly needed: () => boolean,
    private readonly seen: (records: readonly ProjectionRecord[]) => void,
  ) {}

  /** Polls now, then every interval while needed; a no-op while polling already. */
  kick(): void {
    if (this.polling || !this.needed()) return;
    this.polling = true;
    void this.loop();
  }

  /** Ends the current sleep; polling goes on only if still needed. */
  stop(): void {
    this.cancelSleep?.();
  }

  private async loop(): Promise<void> {
    try {
      while (this.needed()) {
        let records: readonly ProjectionRecord[] | undefined;
        try {
          records = await this.store.list();
        } catch {
          records = undefined;
        }
        if (records) this.seen(records);
        if (!this.needed()) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.intervalMs);
          this.cancelSleep = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.cancelSleep = undefined;
      }
    } finally {
      this.polling = false;
    }
  }
}
