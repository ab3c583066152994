import { describe, expect, it, vi } from 'vitest';
import type { RecordedEvent } from '../event-store.js';
import { Lane, type LaneSource, type LaneWork } from './lane.js';

const event = (position: number, type = 'Added'): RecordedEvent => ({
  id: `e${position}`,
  type,
  data: {},
  metadata: { schemaVersion: 1, timestamp: new Date(0).toISOString() },
  streamId: 's',
  version: position,
  position,
  tags: [],
});

// A log in an array, read two events a page; waiting resolves at the next append (or cancel).
function log(types: string[] = []) {
  const events = types.map((type, i) => event(i + 1, type));
  const bells = new Set<() => void>();
  const reads: number[] = [];
  let failing: Error | undefined;
  const source: LaneSource = {
    async read(from) {
      reads.push(from);
      if (failing) throw failing;
      const page = events.filter((e) => e.position >= from).slice(0, 2);
      return page.length === 0 ? undefined : { events: page, checkpoint: page[page.length - 1].position };
    },
    wait() {
      let wake!: () => void;
      const promise = new Promise<void>((resolve) => {
        wake = () => {
          bells.delete(wake);
          resolve();
        };
      });
      bells.add(wake);
      return { promise, cancel: wake };
    },
  };
  return {
    source,
    reads,
    waiting: () => bells.size,
    append(type = 'Added') {
      events.push(event(events.length + 1, type));
      for (const wake of [...bells]) wake();
    },
    fail(err: Error) {
      failing = err;
    },
  };
}

// Work that keeps the checkpoint in a variable and records each batch.
function work(overrides: Partial<LaneWork> = {}) {
  const state = {
    checkpoint: 0 as number | undefined,
    batches: [] as Array<{ events: number[]; checkpoint: number; after: number }>,
  };
  const ended = vi.fn();
  const readFailed = vi.fn(async () => {});
  const lw: LaneWork = {
    checkpoint: () => state.checkpoint,
    async batch(_lane, events, checkpoint, after) {
      state.batches.push({ events: events.map((e) => e.position), checkpoint, after });
      state.checkpoint = checkpoint;
      return true;
    },
    readFailed,
    ended,
    ...overrides,
  };
  return { state, lw, ended, readFailed };
}

describe('lane', () => {
  it('applies the log page by page from the checkpoint, passing only handled events but every checkpoint', async () => {
    const l = log(['Added', 'Ignored', 'Ignored', 'Added', 'Added']);
    const w = work();
    const lane = new Lane(1, l.source, new Set(['Added']), w.lw);
    await vi.waitFor(() => expect(w.state.checkpoint).toBe(5));
    expect(w.state.batches).toEqual([
      { events: [1], checkpoint: 2, after: 0 },
      { events: [4], checkpoint: 4, after: 2 },
      { events: [5], checkpoint: 5, after: 4 },
    ]);
    await vi.waitFor(() => expect(l.waiting()).toBe(1));
    l.append();
    await vi.waitFor(() => expect(w.state.checkpoint).toBe(6));
    lane.retire();
    await lane.done;
    expect(w.ended).toHaveBeenCalledTimes(1);
    expect(w.ended).toHaveBeenCalledWith(lane);
    expect(w.readFailed).not.toHaveBeenCalled();
  });

  it('ends by itself when its generation is gone or a batch says so', async () => {
    const gone = work();
    gone.state.checkpoint = undefined;
    const l = log(['Added']);
    await new Lane(1, l.source, new Set(['Added']), gone.lw).done;
    expect(l.reads).toEqual([]);
    expect(gone.ended).toHaveBeenCalledTimes(1);

    const refusing = work({ batch: async () => false });
    await new Lane(1, log(['Added', 'Added', 'Added']).source, new Set(['Added']), refusing.lw).done;
    expect(refusing.ended).toHaveBeenCalledTimes(1);
    expect(refusing.state.checkpoint).toBe(0);
  });

  it('reads again instead of applying a page read from a checkpoint that moved meanwhile', async () => {
    const l = log(['Added', 'Added', 'Added', 'Added']);
    const w = work();
    const read = l.source.read;
    let moved = false;
    l.source.read = async (from) => {
      const page = await read(from);
      // Another projector's batch was taken up while this page was read.
      if (!moved) {
        moved = true;
        w.state.checkpoint = 3;
      }
      return page;
    };
    const lane = new Lane(1, l.source, new Set(['Added']), w.lw);
    await vi.waitFor(() => expect(w.state.checkpoint).toBe(4));
    expect(w.state.batches).toEqual([{ events: [4], checkpoint: 4, after: 3 }]);
    lane.retire();
    await lane.done;
  });

  it('reports a failed read, unless it was retired meanwhile, and wakes to retire while waiting', async () => {
    const l = log();
    const w = work();
    const lane = new Lane(1, l.source, new Set(['Added']), w.lw);
    await vi.waitFor(() => expect(l.waiting()).toBe(1));
    lane.retire();
    await lane.done;
    expect(l.waiting()).toBe(0);
    expect(w.ended).toHaveBeenCalledTimes(1);

    const broken = log(['Added']);
    broken.fail(new Error('disk gone'));
    const failing = work();
    const failed = new Lane(2, broken.source, new Set(['Added']), failing.lw);
    await failed.done;
    expect(failing.readFailed).toHaveBeenCalledWith(failed, expect.objectContaining({ message: 'disk gone' }));
    expect(failing.ended).toHaveBeenCalledTimes(1);
  });
});
