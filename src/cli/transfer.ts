// `export` and `import`: the log as NDJSON (the whole log or one category), through core's exportLog / importLog.
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChronicleError, exportLog, importLog, type LogEndLine, type LogTransferProgress, scanLog } from 'chronicle-es';
import type { Command } from 'commander';
import type { Context } from './context.js';
import { collect, positiveInt } from './parse.js';
import type { RunAction } from './program.js';
import { describeStore } from './stores.js';

type ExportOptions = { category?: string[]; pageSize?: number };
type ImportOptions = { batchSize: number };

/** Registers `export` and `import`. */
export function transferCommands(program: Command, run: RunAction): void {
  program
    .command('export')
    .description('write the event log (or some categories of it) as NDJSON to a file, or to stdout')
    .argument('[file]', 'the file to write (must not exist); stdout when omitted or -')
    .option('--category <name>', "only this category's streams (the stream id before its first -); repeatable", collect)
    .option('--page-size <n>', 'events per read', positiveInt)
    .addHelpText('after', '\nStop the writers first: an export fails if the log changes under it.')
    .action((file: string | undefined, options: ExportOptions, command: Command) =>
      run(command, (ctx) => exportTo(ctx, file, options)),
    );

  program
    .command('import')
    .description('append an exported NDJSON log to the event store, same ids and order (run again: writes nothing)')
    .argument('<file>', 'an NDJSON file written by export')
    // Larger than importLog's own default: on SQLite 2000 a batch imported 100k events in 4.1 s against 6.9 s at 500.
    .option('--batch-size <n>', 'most events per append', positiveInt, 2000)
    .addHelpText(
      'after',
      '\nThe whole file is checked before anything is written. A SQLite target file is\n' +
        'created when missing. An interrupted import resumes when run again; a finished\n' +
        'one writes nothing.',
    )
    .action((file: string, options: ImportOptions, command: Command) => run(command, (ctx) => importFrom(ctx, file, options)));
}

async function exportTo(ctx: Context, file: string | undefined, options: ExportOptions): Promise<void> {
  const toStdout = file === undefined || file === '-';
  if (!toStdout && existsSync(file)) {
    throw new ChronicleError('INVALID_ARGUMENT', `${file} exists: remove it or name another file`);
  }
  const store = await ctx.eventStore();
  const started = Date.now();
  const progress = ctx.out.progress('export', { fromZero: true });
  const onProgress = (p: LogTransferProgress) => progress.update(p.position, p.headPosition);
  let end: LogEndLine | undefined;
  async function* lines() {
    for await (const line of exportLog(store, { onProgress, pageSize: options.pageSize, categories: options.category })) {
      if (line.startsWith('{"kind":"end"')) end = JSON.parse(line) as LogEndLine;
      yield `${line}\n`;
    }
  }
  if (toStdout) {
    // The result line would land in the NDJSON: with the log on stdout, the summary goes to stderr.
    await ctx.out.stream(lines());
    progress.stop();
    ctx.out.note(`exported ${end?.events ?? 0} events of ${end?.streams ?? 0} streams in ${Date.now() - started} ms`);
    return;
  }
  // Written beside the file and renamed once complete, so a file at `file` is never a partial export.
  const partial = `${file}.partial`;
  try {
    await pipeline(Readable.from(lines()), createWriteStream(partial, { flags: 'wx' }));
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, file);
  progress.stop();
  const ms = Date.now() - started;
  const report = {
    from: describeStore(ctx.storeSpec()),
    file,
    events: end?.events ?? 0,
    streams: end?.streams ?? 0,
    ms,
    eventsPerSecond: rate(end?.events ?? 0, ms),
  };
  ctx.out.result(report, `exported ${report.events} events of ${report.streams} streams to ${file} in ${ms} ms`);
}

async function importFrom(ctx: Context, file: string, options: ImportOptions): Promise<void> {
  if (!existsSync(file)) throw new ChronicleError('NOT_FOUND', `no file ${file}`);
  const started = Date.now();
  // Checked whole first, so a bad or truncated file changes nothing.
  const summary = await scanLog(fileLines(file));
  const store = await ctx.eventStore({ create: true });
  const progress = ctx.out.progress('import', { fromZero: true });
  const result = await importLog(store, fileLines(file), {
    batchSize: options.batchSize,
    onProgress: (p) => progress.update(p.events, summary.events),
  });
  progress.stop();
  const ms = Date.now() - started;
  const report = { to: describeStore(ctx.storeSpec()), file, ...result, ms, eventsPerSecond: rate(result.written, ms) };
  ctx.out.result(
    report,
    `imported ${file}: ${result.written} events written, ${result.skipped} already there, ${result.streams} streams, in ${ms} ms` +
      (result.positionsKept ? '' : ' (positions differ from the source: rebuild read stores built from it)'),
  );
}

const rate = (events: number, ms: number) => (ms > 0 ? Math.round((events * 1000) / ms) : events);

function fileLines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
}
