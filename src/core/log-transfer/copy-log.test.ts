import { describe, expect, it } from 'vitest';
import { ChronicleError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { copyLog } from './copy-log.js';
import { expectSameLog, readWholeLog, writeSampleLog } from './fixtures/sample-log.js';

describe('copyLog', () => {
  it('copies a whole log between stores, tags included, and resumes after an interruption', async () => {
    const source = createInMemoryEventStore();
    await writeSampleLog(source, 30);
    const target = createInMemoryEventStore();
    let calls = 0;
    const failing: EventStore = {
      ...target,
      async appendMany(writes, options) {
        if (++calls === 3) throw new ChronicleError('STORE_ERROR', 'connection lost');
        return target.appendMany(writes, options);
      },
    };
    await expect(copyLog(source, failing, { batchSize: 60 })).rejects.toThrow('connection lost');
    const held = (await readWholeLog(target)).length;
    expect(held).toBeGreaterThan(0);

    const result = await copyLog(source, target, { batchSize: 60, pageSize: 70 });
    expect(result.skipped).toBe(held);
    expect(result.written + result.skipped).toBe(result.events);
    const log = await expectSameLog(source, target);
    expect(log.filter((e) => e.tags.length > 0).length).toBeGreaterThan(30);
  });
});
