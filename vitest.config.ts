import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['chronicle-source'] },
  ssr: { resolve: { conditions: ['chronicle-source'], externalConditions: ['chronicle-source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: keep file-level parallelism modest so fault and load tests have room.
    maxWorkers: 2,
  },
});
