// Moving a log between real stores: memory → NDJSON file → SQLite file → PostgreSQL, through the core API and through
// `npm run move-log` (a bad file changes nothing; an import killed with SIGKILL resumes), every event compared.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ChronicleError, copyLog, createInMemoryEventStore, type EventStore, exportLog, importLog } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameLog, readWholeLog, writeSampleLog } from '../src/core/log-transfer/fixtures/sample-log.js';
import { type FreshSchema, freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const script = ['--conditions=chronicle-source', '--import', 'tsx', 'examples/shop/move-log.ts'];

let dir: string;
let source: EventStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-log-transfer-'));
  source = createInMemoryEventStore();
  await writeSampleLog(source, 1000);
});
afterAll(async () => {
  await source.close();
  await rm(dir, { recursive: true, force: true });
});

async function toFile(store: EventStore, path: string): Promise<void> {
  async function* lines() {
    for await (const line of exportLog(store)) yield `${line}\n`;
  }
  await pipeline(lines(), createWriteStream(path));
}

const fileLines = (path: string) => createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });

/** `npm run move-log -- …args`, resolved with its exit code and output. */
function moveLog(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...script, ...args], { cwd: root }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const PG_TIMEOUT = { timeout: 120_000 };

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!);

describe('moving a log between stores', () => {
  it('memory → NDJSON file → SQLite file: the same events, ids, order, versions, metadata and stream states', async () => {
    const file = join(dir, 'memory.ndjson');
    await toFile(source, file);
    const path = join(dir, 'from-memory.db');
    const target = createSqliteEventStore({ path });
    const result = await importLog(target, fileLines(file));
    await target.close();
    expect(result).toMatchObject({ skipped: 0, positionsKept: true });

    // Reopened: what the import acknowledged is in the file.
    const reopened = createSqliteEventStore({ path });
    try {
      const log = await expectSameLog(source, reopened);
      expect(log.length).toBe(result.events);
      expect(log.length).toBeGreaterThan(2500);
      expect((await reopened.streamInfo('order-7')).deleted).toBe(true);
      expect((await reopened.streamInfo('catalog-1')).metadata).toEqual({ owner: 'ops', retention: { days: 30 } });
    } finally {
      await reopened.close();
    }
  });

  it('npm run move-log: SQLite → file → SQLite and SQLite → SQLite, with progress on stderr', async () => {
    const a = join(dir, 'from-memory.db');
    const file = join(dir, 'exported.ndjson');
    const exported = await moveLog('--from', a, '--to', file);
    expect(exported.code).toBe(0);
    expect(lastJson(exported.stdout)).toMatchObject({ msg: 'log moved', mode: 'export', events: expect.any(Number) });
    expect(exported.stderr).toContain('"msg":"moving log"');
    expect(existsSync(`${file}.partial`)).toBe(false);
    // It never writes over a file.
    const again = await moveLog('--from', a, '--to', file);
    expect(again.code).toBe(1);
    expect(lastJson(again.stderr)).toMatchObject({ msg: 'move failed', code: 'INVALID_ARGUMENT' });

    const b = join(dir, 'from-file.db');
    const imported = await moveLog('--from', file, '--to', b);
    expect(imported.code).toBe(0);
    expect(lastJson(imported.stdout)).toMatchObject({ mode: 'import', written: lastJson(exported.stdout).events });
    const c = join(dir, 'copied.db');
    expect((await moveLog('--from', a, '--to', c)).code).toBe(0);
    for (const path of [b, c]) {
      const store = createSqliteEventStore({ path });
      try {
        await expectSameLog(source, store);
      } finally {
        await store.close();
      }
    }
  });

  it('npm run move-log: a bad file changes nothing, and says which line is bad', async () => {
    const good = readFileSync(join(dir, 'exported.ndjson'), 'utf8').split('\n');
    const cases: [string, string[], RegExp][] = [
      ['truncated.ndjson', good.slice(0, 3000), /truncated/],
      ['cut-line.ndjson', [...good.slice(0, 2000), good[2000].slice(0, 30), ...good.slice(2001)], /line 2001: .*truncated/],
      ['version.ndjson', [good[0].replace('"version":1', '"version":9'), ...good.slice(1)], /version 9 is not supported/],
    ];
    for (const [name, lines, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, lines.join('\n'));
      const target = join(dir, `${name}.db`);
      const run = await moveLog('--from', file, '--to', target);
      expect(run.code).toBe(1);
      expect(lastJson(run.stderr)).toMatchObject({
        msg: 'move failed',
        code: 'INVALID_ARGUMENT',
        error: expect.stringMatching(message),
      });
      // Checked before the target was even opened.
      expect(existsSync(target)).toBe(false);
    }
  });

  it('npm run move-log: an import killed with SIGKILL mid-run resumes after the last batch it wrote', async () => {
    const from = join(dir, 'from-memory.db');
    const to = join(dir, 'killed.db');
    const proc = spawn(process.execPath, [...script, '--from', from, '--to', to, '--batch-size', '10'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killed = await killAtFirstProgress(proc);
    expect(killed).toBe('SIGKILL');

    const partial = createSqliteEventStore({ path: to });
    let held: number;
    try {
      const log = await readWholeLog(partial);
      held = log.length;
      // Whole batches only, in the source's order.
      expect(held).toBeGreaterThan(0);
      expect(log.map((e) => e.id)).toEqual((await readWholeLog(source)).slice(0, held).map((e) => e.id));
    } finally {
      await partial.close();
    }

    const resumed = await moveLog('--from', from, '--to', to);
    expect(resumed.code).toBe(0);
    const report = lastJson(resumed.stdout);
    expect(report.skipped).toBe(held);
    expect(report.written + report.skipped).toBe(report.events);
    const store = createSqliteEventStore({ path: to });
    try {
      await expectSameLog(source, store);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!pgAvailable)('moving a log into and out of PostgreSQL', () => {
  // PostgreSQL appends are round trips on a shared machine: the tests past the first move a smaller log.
  const small = createInMemoryEventStore();
  const smallPath = () => join(dir, 'small.db');
  beforeAll(async () => {
    await writeSampleLog(small, 120);
    const file = createSqliteEventStore({ path: smallPath(), synchronous: 'normal' });
    await copyLog(small, file);
    await file.close();
  });
  const schemas: FreshSchema[] = [];
  const stores: EventStore[] = [];
  const pgStore = (schema = freshSchema('xfer')) => {
    schemas.push(schema);
    const store = createPostgresEventStore({ connectionString: PG_URL, schema: schema.schema });
    stores.push(store);
    return { store, schema: schema.schema };
  };
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(schemas.map((s) => s.drop()));
  });

  it('SQLite file → PostgreSQL: the memory log it came from, event for event, in order', PG_TIMEOUT, async () => {
    const sqlite = createSqliteEventStore({ path: join(dir, 'from-memory.db') });
    const { store } = pgStore();
    try {
      const result = await copyLog(sqlite, store);
      expect(result).toMatchObject({ skipped: 0, written: result.events });
      await expectSameLog(source, store);
      await expectSameLog(sqlite, store);
    } finally {
      await sqlite.close();
    }
  });

  it('an interrupted copy into PostgreSQL resumes; a target written meanwhile stops it', PG_TIMEOUT, async () => {
    const { store } = pgStore();
    let calls = 0;
    const failing: EventStore = {
      ...store,
      async appendMany(writes, options) {
        if (++calls === 5) throw new ChronicleError('STORE_ERROR', 'connection lost');
        return store.appendMany(writes, options);
      },
    };
    await expect(copyLog(small, failing, { batchSize: 40 })).rejects.toThrow('connection lost');
    const held = (await readWholeLog(store)).length;
    expect(held).toBeGreaterThan(0);
    const result = await copyLog(small, store, { batchSize: 40 });
    expect(result.skipped).toBe(held);
    await expectSameLog(small, store);

    const other = pgStore().store;
    calls = 0;
    const meddled: EventStore = {
      ...other,
      async appendMany(writes, options) {
        if (++calls === 2) await other.append('elsewhere-1', [{ type: 'Meddle', data: {} }]);
        return other.appendMany(writes, options);
      },
    };
    await expect(copyLog(small, meddled, { batchSize: 40 })).rejects.toThrow('the target was written during the import');
  });

  it('npm run move-log: SQLite → PostgreSQL, PostgreSQL → file → PostgreSQL in another schema', PG_TIMEOUT, async () => {
    const first = pgStore();
    const copied = await moveLog('--from', smallPath(), '--to', PG_URL, '--schema', first.schema);
    expect(copied.code).toBe(0);
    expect(lastJson(copied.stdout)).toMatchObject({ mode: 'copy', to: expect.stringContaining(`schema ${first.schema}`) });
    await expectSameLog(small, first.store);

    const file = join(dir, 'from-postgres.ndjson');
    expect((await moveLog('--from', PG_URL, '--from-schema', first.schema, '--to', file)).code).toBe(0);
    const second = pgStore();
    const imported = await moveLog('--from', file, '--to', PG_URL, '--to-schema', second.schema);
    expect(imported.code).toBe(0);
    expect(lastJson(imported.stdout)).toMatchObject({ mode: 'import', skipped: 0 });
    await expectSameLog(small, second.store);

    // A schema with no log is refused as a source, not exported as an empty file.
    const empty = freshSchema('xfer');
    schemas.push(empty);
    const refused = await moveLog('--from', PG_URL, '--schema', empty.schema, '--to', join(dir, 'empty.ndjson'));
    expect(refused.code).toBe(1);
    expect(lastJson(refused.stderr)).toMatchObject({ code: 'NOT_FOUND', error: expect.stringContaining('holds no events') });
  });
});

// SIGKILL once the child reports its first batch written; resolves with the signal it died of.
function killAtFirstProgress(proc: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    let stderr = '';
    proc.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (/"msg":"moving log".*"written":[1-9]/.test(stderr)) proc.kill('SIGKILL');
    });
    proc.on('exit', (_, signal) => resolve(signal));
  });
}
