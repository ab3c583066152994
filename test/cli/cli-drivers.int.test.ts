// The CLI loads a store's driver only for the scheme given: `--store x.db` never loads pg or ioredis, a postgres://
// store never loads better-sqlite3.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshSchema, freshSchema, pgAvailable } from '../support/postgres.js';
import { root } from './cli-run.js';

const exec = promisify(execFile);
let dir: string;
const schemas: FreshSchema[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-cli-drivers-'));
  const store = createSqliteEventStore({ path: join(dir, 'events.db') });
  await store.append('note-1', [{ type: 'Noted', data: {} }]);
  await store.close();
});
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI in a fresh process and answers which drivers it loaded. */
async function driversLoadedBy(args: string[]): Promise<{ code: number; drivers: string[] }> {
  const code = `
    import { createRequire } from 'node:module';
    import { Writable } from 'node:stream';
    import { runCli } from './src/cli/program.ts';
    const require = createRequire(import.meta.url);
    const sink = new Writable({ write: (_c, _e, done) => done() });
    const exit = await runCli(${JSON.stringify(args)}, { stdout: sink, stderr: sink });
    const drivers = ['better-sqlite3', 'pg', 'ioredis', 'fastify', '@nats-io'];
    console.log(JSON.stringify({ code: exit, drivers: drivers.filter((d) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + d + '/'))) }));`;
  const { stdout } = await exec(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', '--input-type=module', '-e', code],
    { cwd: root },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '');
}

describe('the CLI loads drivers by scheme', () => {
  it('a SQLite store loads better-sqlite3 only', async () => {
    expect(await driversLoadedBy(['--store', join(dir, 'events.db'), 'export', join(dir, 'out.ndjson')])).toEqual({
      code: 0,
      drivers: ['better-sqlite3'],
    });
  });

  it.skipIf(!pgAvailable)('a PostgreSQL store loads pg only', async () => {
    const fresh = freshSchema('cli_drivers');
    schemas.push(fresh);
    expect(await driversLoadedBy(['--store', fresh.connectionString, '--schema', fresh.schema, 'migrate'])).toEqual({
      code: 0,
      drivers: ['pg'],
    });
  });

  it('help loads no driver', async () => {
    expect(await driversLoadedBy(['--help'])).toEqual({ code: 0, drivers: [] });
  });
});
