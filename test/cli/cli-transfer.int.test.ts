// `chronicle export` / `import` on real store files and the real PostgreSQL: export → import into an empty store gives
// the same log, a second import writes nothing, SQLite → PostgreSQL → SQLite, one category, and bad input that exits
// non-zero with one line and changes nothing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStore } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameLog, readWholeLog, writeSampleLog } from '../../src/core/log-transfer/fixtures/sample-log.js';
import { type FreshSchema, freshSchema, pgAvailable } from '../support/postgres.js';
import { cli, cliProcess, json, oneLineFailure } from './cli-run.js';

let dir: string;
let sourcePath: string;
let source: EventStore;
const schemas: FreshSchema[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-cli-transfer-'));
  sourcePath = join(dir, 'source.db');
  source = createSqliteEventStore({ path: sourcePath });
  await writeSampleLog(source, 300);
});
afterAll(async () => {
  await source.close();
  await Promise.all(schemas.map((s) => s.drop()));
  await rm(dir, { recursive: true, force: true });
});

const path = (name: string) => join(dir, name);

describe('chronicle export / import', () => {
  it('export → import into an empty store → the same log (ids, order, data, metadata, stream states); again writes nothing', async () => {
    const file = path('whole.ndjson');
    const exported = await cliProcess('--store', sourcePath, '--json', 'export', file);
    expect(exported.code, exported.stderr).toBe(0);
    const log = await readWholeLog(source);
    expect(json(exported)).toMatchObject({ file, events: log.length });
    // Progress went to stderr as JSON lines, the result to stdout.
    expect(exported.stderr.trim().split('\n').at(-1)).toContain('"progress"');

    const targetPath = path('imported.db');
    const first = await cliProcess('--store', targetPath, '--json', 'import', file);
    expect(first.code, first.stderr).toBe(0);
    expect(json(first)).toMatchObject({ written: log.length, skipped: 0, positionsKept: true });
    const target = createSqliteEventStore({ path: targetPath });
    try {
      const copied = await expectSameLog(source, target);
      expect(copied.map((e) => e.position)).toEqual(log.map((e) => e.position));
      const head = await target.headPosition();

      const second = await cli('--store', targetPath, '--json', 'import', file);
      expect(second.code, second.stderr).toBe(0);
      expect(json(second)).toMatchObject({ written: 0, skipped: log.length, appends: 0 });
      expect(await target.headPosition()).toBe(head);
    } finally {
      await target.close();
    }
  });

  it('exports one category, whole, into a file an empty store imports', async () => {
    const file = path('orders.ndjson');
    const exported = await cli('--store', sourcePath, 'export', '--category', 'order', file);
    expect(exported.code, exported.stderr).toBe(0);
    const orders = (await readWholeLog(source)).filter((e) => e.streamId.startsWith('order-'));
    expect(orders.length).toBeGreaterThan(0);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.kind === 'event').map((l) => l.id)).toEqual(orders.map((e) => e.id));

    const targetPath = path('orders.db');
    expect((await cli('--store', targetPath, 'import', file)).code).toBe(0);
    const target = createSqliteEventStore({ path: targetPath });
    try {
      const copied = await readWholeLog(target);
      expect(copied.map(({ id, data, metadata, streamId, version }) => ({ id, data, metadata, streamId, version }))).toEqual(
        orders.map(({ id, data, metadata, streamId, version }) => ({ id, data, metadata, streamId, version })),
      );
    } finally {
      await target.close();
    }
  });

  it('writes the log to stdout when no file is named', async () => {
    const result = await cli('--store', sourcePath, 'export');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ kind: 'header', format: 'chronicle-log' });
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ kind: 'end', events: (await readWholeLog(source)).length });
    expect(result.stderr).toContain('exported');
  });

  describe.skipIf(!pgAvailable)('SQLite → PostgreSQL and back', () => {
    it('keeps the log through both moves', { timeout: 120_000 }, async () => {
      const fresh = freshSchema('cli_transfer');
      schemas.push(fresh);
      const file = path('to-pg.ndjson');
      expect((await cli('--store', sourcePath, 'export', file)).code).toBe(0);
      const toPg = await cliProcess('--store', fresh.connectionString, '--schema', fresh.schema, '--json', 'import', file);
      expect(toPg.code, toPg.stderr).toBe(0);
      expect(json(toPg).written).toBe((await readWholeLog(source)).length);

      const back = path('from-pg.ndjson');
      const fromPg = await cliProcess('--store', fresh.connectionString, '--schema', fresh.schema, 'export', back);
      expect(fromPg.code, fromPg.stderr).toBe(0);
      const backPath = path('back.db');
      expect((await cli('--store', backPath, 'import', back)).code).toBe(0);

      const pgStore = createPostgresEventStore({ connectionString: fresh.connectionString, schema: fresh.schema });
      const sqliteBack = createSqliteEventStore({ path: backPath });
      try {
        await expectSameLog(source, pgStore);
        await expectSameLog(source, sqliteBack);
        // A second import into PostgreSQL writes nothing either.
        const again = await cli('--store', fresh.connectionString, '--schema', fresh.schema, '--json', 'import', file);
        expect(json(again)).toMatchObject({ written: 0 });
      } finally {
        await pgStore.close();
        await sqliteBack.close();
      }
    });
  });

  describe('bad input exits non-zero with one line and changes nothing', () => {
    it('a missing store file is not created', async () => {
      const missing = path('missing.db');
      const line = oneLineFailure(await cliProcess('--store', missing, 'export', path('never.ndjson')));
      expect(line).toContain('no event store at');
      expect(existsSync(missing)).toBe(false);
      expect(existsSync(path('never.ndjson'))).toBe(false);
    });

    it('an unknown store scheme, a bad URL, a Redis event store', async () => {
      expect(oneLineFailure(await cliProcess('--store', 'mysql://db/x', 'export'))).toContain('unknown store mysql://');
      expect(oneLineFailure(await cli('--store', 'postgres://[bad', 'export'))).toContain('not a valid postgres:// URL');
      expect(oneLineFailure(await cli('--store', 'redis://127.0.0.1:6379', 'export'))).toContain('unknown store redis://');
    });

    it('an unknown command or option, a bad value', async () => {
      expect(oneLineFailure(await cliProcess('frobnicate'))).toContain("unknown command 'frobnicate'");
      const badValue = await cli('--store', sourcePath, 'import', '--batch-size', 'lots', path('x.ndjson'));
      expect(badValue.code).toBe(2);
      expect(oneLineFailure(badValue)).toContain('a positive integer');
    });

    it('a missing, truncated or foreign import file writes nothing', async () => {
      const targetPath = path('untouched.db');
      expect(oneLineFailure(await cli('--store', targetPath, 'import', path('nope.ndjson')))).toContain('no file');
      const whole = readFileSync(path('whole.ndjson'), 'utf8').trim().split('\n');
      const truncated = path('truncated.ndjson');
      writeFileSync(truncated, `${whole.slice(0, 50).join('\n')}\n`);
      expect(oneLineFailure(await cliProcess('--store', targetPath, 'import', truncated))).toContain('truncated');
      const foreign = path('foreign.ndjson');
      writeFileSync(foreign, '{"hello":"world"}\n');
      expect(oneLineFailure(await cli('--store', targetPath, 'import', foreign))).toContain('not a Chronicle log export');
      expect(existsSync(targetPath)).toBe(false);
    });

    it('an export onto an existing file, or of a read store, leaves both as they were', async () => {
      const taken = path('taken.ndjson');
      writeFileSync(taken, 'mine\n');
      expect(oneLineFailure(await cli('--store', sourcePath, 'export', taken))).toContain('exists');
      expect(readFileSync(taken, 'utf8')).toBe('mine\n');
      const notAStore = path('not-a-db.db');
      writeFileSync(notAStore, 'plain text, not SQLite\n');
      expect(oneLineFailure(await cliProcess('--store', notAStore, 'export'))).toMatch(/not a database/);
      expect(readFileSync(notAStore, 'utf8')).toBe('plain text, not SQLite\n');
      const readPath = path('read.db');
      await createSqliteReadStore({ path: readPath }).close();
      expect(oneLineFailure(await cli('--store', readPath, 'export'))).toContain('holds a read store');
      const read = createSqliteReadStore({ path: readPath });
      try {
        // Still a read store, with no event tables added: a read store opens it as before.
        expect(await read.list()).toEqual([]);
      } finally {
        await read.close();
      }
    });
  });
});
