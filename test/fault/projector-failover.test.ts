// A projection worker dies without releasing its leases: another takes its projections over within 5 s.
import { describe, expect, it } from 'vitest';
import { inMemoryHarness } from './projector-in-memory-harness.js';
import { failoverScenario } from './projector-lease-scenarios.js';

describe('projection worker failover (in-memory read store)', () => {
  it('moves a dead worker’s projections to the survivor, which continues from the checkpoints', async () => {
    const { tookOverMs, heldByA } = await failoverScenario(inMemoryHarness());
    console.log(`took over ${heldByA.join(', ')} ${tookOverMs} ms after the worker died`);
    expect(heldByA.length).toBeGreaterThan(0);
  }, 20_000);
});
