import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreInspectorConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createSqliteEventStore } from './index.js';

let dir = '';
let files = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chronicle-sqlite-inspect-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describeStoreInspectorConformance(
  'sqlite',
  { create: () => createSqliteEventStore({ path: join(dir, `inspect-${++files}.db`) }) },
  { describe, it, beforeAll, afterAll },
);
