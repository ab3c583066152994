// Processes creating the same subjects' keys at the same moment, on one SQLite file and on one PostgreSQL schema: every
// process gets the one key each subject has, so no event is ever encrypted under a key another process does not see.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const child = fileURLToPath(new URL('./subject-keys-race-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chronicle-key-race-'));
const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(schemas.map((s) => s.drop()));
});

const PROCESSES = 4;
const SUBJECTS = 40;

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

async function race(kind: string, where: string, schema: string) {
  // Far enough ahead that every child has loaded and opened its store before any starts.
  const startAt = Date.now() + 4000;
  const outputs = await Promise.all(
    Array.from({ length: PROCESSES }, () => run([kind, where, schema, String(startAt), String(SUBJECTS), 'racer-'])),
  );
  const seen = new Map<string, Set<string>>();
  for (const out of outputs) {
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(SUBJECTS);
    for (const line of lines) {
      const [subject, id, hex] = line.split(' ');
      expect(hex).toMatch(/^[0-9a-f]{64}$/);
      seen.set(subject, (seen.get(subject) ?? new Set()).add(`${id} ${hex}`));
    }
  }
  expect(seen.size).toBe(SUBJECTS);
  for (const [subject, keys] of seen) expect(keys.size, `${subject} got ${keys.size} keys`).toBe(1);
}

describe('subject keys created by several processes at once', () => {
  it('agree on one key per subject on a SQLite file', async () => {
    await race('sqlite', join(dir, 'keys.db'), '-');
  }, 60_000);

  it.skipIf(!pgAvailable)(
    'agree on one key per subject on a PostgreSQL schema',
    async () => {
      const fresh = freshSchema('keyrace');
      schemas.push(fresh);
      await race('postgres', PG_URL, fresh.schema);
    },
    60_000,
  );
});
