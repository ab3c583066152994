// A process manager's batch holds the read store's transaction open while its requests go out: its time budget cuts
// a slow batch short (the events whose requests all went out commit, the rest come next, and it is no failure), and
// stopping ends a wait between retries at once instead of waiting it out.
import { afterEach, describe, expect, it } from 'vitest';
import { ChronicleError } from '../errors.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import { BatchCut } from '../projections/run-handlers.js';
import { command, defineProcessManager } from './define-process-manager.js';
import { orderProcess, orderWorld, ReserveStock } from './fixtures/process-orders.js';

const worlds: ReturnType<typeof orderWorld>[] = [];
const world = (options: Parameters<typeof orderWorld>[0] = {}) => {
  const w = orderWorld(options);
  worlds.push(w);
  return w;
};
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.stop()));
});

// The read store, with every apply's checkpoint and outcome and every failure recorded.
function watched<Tx, R>(inner: ProjectionStore<Tx, R>) {
  const applies: Array<{ checkpoint: number; outcome: 'committed' | 'cut' | 'other' }> = [];
  const failures: unknown[] = [];
  const store: ProjectionStore<Tx, R> = {
    ...inner,
    async apply(name, generation, work, checkpoint, after, fence) {
      try {
        await inner.apply(name, generation, work, checkpoint, after, fence);
        applies.push({ checkpoint, outcome: 'committed' });
      } catch (err) {
        applies.push({ checkpoint, outcome: err instanceof BatchCut ? 'cut' : 'other' });
        throw err;
      }
    },
    setFailure(name, failure, fence) {
      failures.push(failure);
      return inner.setFailure(name, failure, fence);
    },
  };
  return { store, applies, failures };
}

describe('a process manager batch', () => {
  it('stops starting requests once its budget is spent and commits the events whose requests all went out', async () => {
    const read = watched(createInMemoryReadStore());
    // Four processes of 20 events each: one after the other, a process's commands take 20 × 10 ms, well past 40 ms.
    const pm = defineProcessManager({
      name: 'order_process',
      version: 1,
      batchBudgetMs: 40,
      correlate: (e) => `k${Number((e.data as { orderId: string }).orderId.slice(1)) % 4}`,
      handlers: {
        OrderPlaced: (e) => {
          const { orderId } = e.data as { orderId: string };
          return { send: [command(ReserveStock, { orderId, amount: 1 })] };
        },
      },
    });
    const w = world({ pm, readStore: read.store, before: () => new Promise((r) => setTimeout(r, 10)) });
    const ids = Array.from({ length: 80 }, (_, i) => `o${i}`);
    await w.eventStore.appendMany(
      ids.map((id) => ({ streamId: `order-${id}`, events: [{ type: 'OrderPlaced', data: { orderId: id, amount: 1 } }] })),
    );
    await w.start();
    await w.caughtUp(20_000);
    // Every order reserved once in effect; the log's 80 events went through in several commits, none a failure.
    expect((await w.reserved()).sort()).toEqual([...ids].sort());
    expect(read.failures).toEqual([]);
    expect(read.applies.filter((a) => a.outcome === 'other')).toEqual([]);
    expect(read.applies.filter((a) => a.outcome === 'cut').length).toBeGreaterThan(0);
    const commits = read.applies.filter((a) => a.outcome === 'committed').map((a) => a.checkpoint);
    expect(commits.filter((c) => c < 80).length).toBeGreaterThan(1);
    expect(commits).toEqual([...commits].sort((a, b) => a - b));
    expect((await w.projector.status())[0].lastError).toBeUndefined();
  });

  it('a budget spent on slow steps still moves each batch on by at least one event', async () => {
    const read = watched(createInMemoryReadStore());
    const pm = orderProcess({
      batchBudgetMs: 1,
      handlers: {
        OrderPlaced: async ({ data }) => {
          await new Promise((r) => setTimeout(r, 5));
          return { send: [command(ReserveStock, { orderId: data.orderId, amount: 1 })] };
        },
      },
    });
    const w = world({ pm, readStore: read.store });
    for (let i = 0; i < 5; i++) await w.place(`s${i}`);
    await w.start();
    await w.caughtUp();
    expect((await w.reserved()).sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(read.failures).toEqual([]);
  });

  it('rejects a budget that is not a positive number of ms, and retry waits no timer can keep', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
      expect(() => orderProcess({ batchBudgetMs: bad })).toThrow(/batchBudgetMs/);
    }
    for (const retry of [
      { initialDelayMs: Number.POSITIVE_INFINITY, maxDelayMs: Number.POSITIVE_INFINITY },
      { maxDelayMs: 1e12 },
      { attempts: 0 },
      { attempts: 1.5 },
      { initialDelayMs: 10, maxDelayMs: 5 },
    ]) {
      expect(() => orderProcess({ retry })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('stop ends a wait between retries at once: what went out commits, the rest goes out after a restart', async () => {
    const read = createInMemoryReadStore();
    let down = true;
    let firstTry: () => void = () => {};
    const tried = new Promise<void>((resolve) => {
      firstTry = resolve;
    });
    const w = world({
      readStore: read,
      // A minute between tries: stopping must not wait for it.
      retry: { attempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000 },
      before(sent) {
        if ((sent.data as { orderId: string }).orderId !== 'slow' || !down) return;
        firstTry();
        throw new ChronicleError('STORE_ERROR', 'down');
      },
    });
    await w.place('ok');
    await w.place('slow');
    await w.start();
    await tried;
    const stopped = await Promise.race([
      w.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('still waiting'), 10_000)),
    ]);
    expect(stopped).toBe('stopped');
    const [ok, slow] = await w.ofType('OrderPlaced');
    const record = await read.load('order_process');
    expect(record?.failure).toBeUndefined();
    expect(record?.position).toBe(ok.position);
    expect(slow.position).toBeGreaterThan(ok.position);

    down = false;
    await w.start();
    await w.caughtUp();
    expect((await w.reserved()).sort()).toEqual(['ok', 'slow']);
    expect(w.sent.filter((s) => (s.data as { orderId: string }).orderId === 'ok')).toHaveLength(1);
  });
});
