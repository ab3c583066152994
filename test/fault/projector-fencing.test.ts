// A projection worker that lost its lease while a batch of its own was paused mid-apply can never commit that batch.
import { describe, it } from 'vitest';
import { inMemoryHarness } from './projector-in-memory-harness.js';
import { fencingScenario } from './projector-lease-scenarios.js';

describe('projection worker fencing (in-memory read store)', () => {
  it('refuses a paused batch of a worker whose lease passed on, and the new holder’s rows stand', async () => {
    await fencingScenario(inMemoryHarness());
  });
});
