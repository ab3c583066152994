// `npm run move-log -- --from <where> --to <where>`: moves the Shop's event log between stores, or to and from an NDJSON
// file, with the same events, ids and order. <where> is a SQLite file, a postgres:// URL, or a .ndjson file. Stop the
// Shop first. Progress goes to stderr as JSON lines, the result to stdout. See README "Scaling out".
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ChronicleError,
  copyLog,
  type EventStore,
  exportLog,
  type ImportLogResult,
  importLog,
  isChronicleError,
  type LogEndLine,
  type LogTransferProgress,
  scanLog,
} from 'chronicle-es';
import { openShopEventStore } from './shop-event-store.js';

/** One end of a move. */
export type LogEnd =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; connectionString: string; schema: string }
  | { kind: 'file'; path: string };

export type MoveLogOptions = {
  from: LogEnd;
  to: LogEnd;
  /** Most events per appendMany when importing. */
  batchSize?: number;
  onProgress?: (progress: LogTransferProgress) => void;
  /** Told before a file is checked: it is read once whole before the import reads it again. */
  onCheck?: (path: string) => void;
};

export type MoveLogReport = { from: string; to: string; ms: number } & (
  | ({ mode: 'copy' | 'import' } & ImportLogResult)
  | { mode: 'export'; events: number; streams: number }
);

const FILE = /\.(ndjson|jsonl)$/i;
const POSTGRES = /^postgres(ql)?:\/\//i;

/** Reads a `--from`/`--to` value: a postgres:// URL (its tables in `schema`), an NDJSON file (by its extension), or else a SQLite file. */
export function parseEnd(spec: string, schema: string): LogEnd {
  if (spec === '') throw new ChronicleError('INVALID_ARGUMENT', 'a store or file must be named');
  if (POSTGRES.test(spec)) return { kind: 'postgres', connectionString: spec, schema };
  return FILE.test(spec) ? { kind: 'file', path: spec } : { kind: 'sqlite', path: spec };
}

// For the report and errors: a connection string may carry a password, which is never printed.
function describeEnd(end: LogEnd): string {
  if (end.kind !== 'postgres') return `${end.kind} ${end.path}`;
  const url = new URL(end.connectionString);
  if (url.password !== '') url.password = '…';
  return `postgres ${url.toString()} schema ${end.schema}`;
}

/**
 * Moves a log: store to store (copyLog), store to file (exportLog, written beside the file and renamed when complete),
 * or file to store (the whole file is checked first, so a bad one changes nothing; then importLog). Store to store and
 * file to store resume after an interruption when run again.
 * @throws INVALID_ARGUMENT, NOT_FOUND and the codes of exportLog / importLog
 */
export async function moveLog(options: MoveLogOptions): Promise<MoveLogReport> {
  const { from, to, batchSize, onProgress } = options;
  const started = Date.now();
  const ends = { from: describeEnd(from), to: describeEnd(to) };
  if (from.kind === 'file') {
    if (to.kind === 'file') throw new ChronicleError('INVALID_ARGUMENT', 'both ends are files: copy the file instead');
    if (!existsSync(from.path)) throw new ChronicleError('NOT_FOUND', `no file ${from.path}`);
    options.onCheck?.(from.path);
    await scanLog(fileLines(from.path));
    const target = openStore(to, 'target');
    try {
      const result = await importLog(target, fileLines(from.path), { batchSize, onProgress });
      return { mode: 'import', ...ends, ...result, ms: Date.now() - started };
    } finally {
      await target.close();
    }
  }
  const source = openStore(from, 'source');
  try {
    // A wrong path or schema would otherwise be an empty log, moved without a word (a PostgreSQL schema is created).
    if ((await source.headPosition()) === 0) {
      throw new ChronicleError('NOT_FOUND', `${describeEnd(from)} holds no events: is --from (or its schema) right?`);
    }
    if (to.kind === 'file') {
      const counts = await exportToFile(source, to.path, onProgress);
      return { mode: 'export', ...ends, ...counts, ms: Date.now() - started };
    }
    const target = openStore(to, 'target');
    try {
      const result = await copyLog(source, target, { batchSize, onProgress });
      return { mode: 'copy', ...ends, ...result, ms: Date.now() - started };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

// Both ends read and write through their key stores: the keys do not move with the events, so the source decrypts
// (a forgotten customer's fields come out as "[forgotten]") and the target encrypts again under keys of its own. An
// NDJSON export therefore holds the personal data in plain text: keep such a file as carefully as the database.
function openStore(end: Exclude<LogEnd, { kind: 'file' }>, role: 'source' | 'target'): EventStore {
  if (end.kind === 'postgres') {
    return openShopEventStore({ postgres: { connectionString: end.connectionString, schema: end.schema } });
  }
  // Opening a SQLite path that does not exist would create an empty log and export nothing.
  if (role === 'source' && !existsSync(end.path)) throw new ChronicleError('NOT_FOUND', `no event store at ${end.path}`);
  // A target at 'normal' skips an fsync per batch: closing checkpoints the log into the file, and an import cut short
  // by a power loss resumes from whatever batches survived.
  return openShopEventStore({ path: end.path, synchronous: role === 'target' ? 'normal' : 'full' });
}

function fileLines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
}

// Written beside the file and renamed once complete, so a file at `path` is never a partial export.
async function exportToFile(store: EventStore, path: string, onProgress: MoveLogOptions['onProgress']) {
  if (existsSync(path)) throw new ChronicleError('INVALID_ARGUMENT', `${path} exists: remove it or name another file`);
  const partial = `${path}.partial`;
  let lastLine = '';
  async function* withNewlines() {
    for await (const line of exportLog(store, { onProgress })) {
      lastLine = line;
      yield `${line}\n`;
    }
  }
  try {
    await pipeline(withNewlines(), createWriteStream(partial));
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, path);
  const end = JSON.parse(lastLine) as LogEndLine;
  return { events: end.events, streams: end.streams };
}

const USAGE = `usage: npm run move-log -- [--from <where>] [--to <where>] [--schema s] [--batch-size n]
  <where> is a SQLite file, a postgres:// URL or a .ndjson file
  --from        default $DATA_DIR/events.db (the Shop's SQLite log)
  --to          default $CHRONICLE_EVENT_STORE
  --schema      the schema of a postgres:// end, default $CHRONICLE_PG_SCHEMA or shop
  --from-schema, --to-schema   one end's schema, when the two differ`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  let last = 0;
  try {
    const text = { type: 'string' } as const;
    const { values } = parseArgs({
      options: { from: text, to: text, schema: text, 'from-schema': text, 'to-schema': text, 'batch-size': text },
    });
    const fromSpec = values.from ?? join(env.DATA_DIR || './data', 'events.db');
    const toSpec = values.to ?? (env.CHRONICLE_EVENT_STORE || undefined);
    if (toSpec === undefined) throw new ChronicleError('INVALID_ARGUMENT', `--to is needed (or CHRONICLE_EVENT_STORE)\n${USAGE}`);
    const schema = values.schema ?? (env.CHRONICLE_PG_SCHEMA || 'shop');
    const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
    if (batchSize !== undefined && !(Number.isSafeInteger(batchSize) && batchSize > 0)) {
      throw new ChronicleError('INVALID_ARGUMENT', '--batch-size must be a positive integer');
    }
    const report = await moveLog({
      from: parseEnd(fromSpec, values['from-schema'] ?? schema),
      to: parseEnd(toSpec, values['to-schema'] ?? schema),
      batchSize,
      onCheck: (path) => console.error(JSON.stringify({ msg: 'checking file', path })),
      onProgress(p) {
        // The first report at once (the move has begun), then at most one a second.
        if (last !== 0 && Date.now() - last < 1000) return;
        last = Date.now();
        const share = p.headPosition === 0 ? 1 : Math.min(1, p.position / p.headPosition);
        console.error(JSON.stringify({ msg: 'moving log', ...p, percent: Math.floor(share * 100) }));
      },
    });
    console.log(JSON.stringify({ msg: 'log moved', ...report }));
  } catch (err) {
    const code = isChronicleError(err) ? err.code : undefined;
    console.error(JSON.stringify({ msg: 'move failed', code, error: err instanceof Error ? err.message : String(err) }));
    process.exit(1);
  }
}
