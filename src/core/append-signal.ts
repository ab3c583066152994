// Wakes in-process subscribers when a store commits, so live delivery does not wait for a poll.

/** A one-shot broadcast that subscribers await; `notify()` wakes everyone waiting now. */
export class AppendSignal {
  private waiters: Array<() => void> = [];

  /** Wake every current waiter. */
  notify(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next notify() or after `timeoutMs`, whichever comes first. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.waiters = self.waiters.filter((w) => w !== done);
        resolve();
      }
      this.waiters.push(done);
    });
  }
}
