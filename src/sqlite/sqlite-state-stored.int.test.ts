// The shipped state-stored conformance cases against SQLite files, with a second handle on the same file as a peer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStateStoredConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createSqliteEventStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-state-stored-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const path = join(dir, 'store.db');
describeStateStoredConformance(
  'sqlite',
  {
    create: () => createSqliteEventStore({ path }),
    createPeer: () => createSqliteEventStore({ path }),
  },
  { describe, it, beforeAll, afterAll },
);
