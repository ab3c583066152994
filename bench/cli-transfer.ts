// `node --conditions=chronicle-source --import tsx bench/cli-transfer.ts [-- --quick]`: the CLI's export and import
// rates on a 100k-event SQLite log, each run as the real bin (a child process; its own timing, so process start-up is
// left out), beside a bare better-sqlite3 export and import of the same rows as NDJSON. One JSON line each.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { type BenchResult, printTable, reportThroughput, scaled } from './harness.js';
import { payload } from './payload.js';
import { rawExportNdjson, rawImportNdjson } from './raw-sqlite-baseline.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-cli-'));
const EVENTS = scaled(100_000);
const PER_STREAM = 10;

// Throughput lines of this bench (normal sync), against a baseline when given.
const line = (name: string, events: number, seconds: number, note: string, baseline?: BenchResult) =>
  reportThroughput(name, events, seconds, { sync: 'normal', note, baseline });

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, (performance.now() - started) / 1000];
}

/** The bin, as a user runs it; resolves with its --json result. */
async function chronicle(...args: string[]): Promise<{ ms: number; events?: number; written?: number }> {
  const { stdout } = await exec(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', 'src/cli/main.ts', '--json', ...args],
    { cwd: root, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout.trim());
}

try {
  const source = join(dir, 'source.db');
  const store = createSqliteEventStore({ path: source, synchronous: 'normal' });
  const streams = EVENTS / PER_STREAM;
  for (let s = 0; s < streams; s += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        store.append(
          `order-${s + j}`,
          Array.from({ length: PER_STREAM }, (_, k) => ({ type: 'OrderPlaced', data: payload((s + j) * PER_STREAM + k) })),
        ),
      ),
    );
  }
  await store.close();

  // Once unmeasured, so neither side pays for reading the file into the page cache.
  await rawExportNdjson(source, join(dir, 'warm.ndjson'));
  const [rawOut, rawExportSeconds] = await timed(() => rawExportNdjson(source, join(dir, 'raw.ndjson')));
  const rawExport = line(
    'raw-better-sqlite3:export-ndjson',
    rawOut,
    rawExportSeconds,
    'baseline: SELECT every row, one JSON line each',
  );
  const [rawIn, rawImportSeconds] = await timed(() => rawImportNdjson(join(dir, 'raw.ndjson'), join(dir, 'raw-target.db')));
  const rawImport = line(
    'raw-better-sqlite3:import-ndjson',
    rawIn,
    rawImportSeconds,
    'baseline: parse each line, INSERT, 500 a transaction',
  );

  const file = join(dir, 'log.ndjson');
  const exported = await chronicle('--store', source, 'export', file);
  line(
    'cli:export',
    exported.events ?? 0,
    exported.ms / 1000,
    'chronicle export: exportLog, page 1000, every stream checked',
    rawExport,
  );
  const imported = await chronicle('--store', join(dir, 'target.db'), 'import', file);
  line(
    'cli:import',
    imported.written ?? 0,
    imported.ms / 1000,
    'chronicle import into an empty file, its time including the check of the whole file first: importLog, appendMany of 500, version-checked',
    rawImport,
  );
  const again = await chronicle('--store', join(dir, 'target.db'), 'import', file);
  line('cli:import-again', EVENTS, again.ms / 1000, `the same file again: ${again.written} written, every event compared`);
  printTable();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
