// `streams list|show` and `stats`: what the event store holds, through the store-inspection port.
import { ChronicleError, inspectorOf, type StoreInspector } from 'chronicle-es';
import type { Command } from 'commander';
import type { Context } from './context.js';
import { positiveInt } from './parse.js';
import type { RunAction } from './program.js';

type ListOptions = { category?: string; prefix?: string; after?: string; limit: number };
type ShowOptions = { before?: number; limit: number };

// The port's own page bound; a larger --limit is refused with its message.
const DEFAULT_LIMIT = 50;

/** Registers the `streams` group and `stats`. */
export function streamsCommands(program: Command, run: RunAction): void {
  const streams = program.command('streams').description('the streams of the event store');
  streams
    .command('list')
    .description('streams in id order, a page at a time (--after the last id shown for the next page)')
    .option('--category <name>', 'only streams of this category')
    .option('--prefix <text>', 'only streams whose id starts with this')
    .option('--after <streamId>', 'the page after this stream id')
    .option('--limit <n>', 'streams per page, 1 to 500', positiveInt, DEFAULT_LIMIT)
    .action((options: ListOptions, command: Command) => run(command, (ctx) => list(ctx, options)));
  streams
    .command('show')
    .description("a stream's events, newest first, a page at a time")
    .argument('<streamId>', 'the stream')
    .option('--before <version>', 'the page of events below this version', positiveInt)
    .option('--limit <n>', 'events per page, 1 to 500', positiveInt, 20)
    .action((streamId: string, options: ShowOptions, command: Command) => run(command, (ctx) => show(ctx, streamId, options)));
  program
    .command('stats')
    .description('events, streams and head of the event store, per category')
    .action((_options: unknown, command: Command) => run(command, stats));
}

async function inspector(ctx: Context): Promise<StoreInspector> {
  const found = inspectorOf(await ctx.eventStore());
  if (!found) throw new ChronicleError('INVALID_ARGUMENT', 'this event store cannot be inspected');
  return found;
}

async function list(ctx: Context, options: ListOptions): Promise<void> {
  const page = await (await inspector(ctx)).listStreams(options);
  const text =
    page.streams.length === 0
      ? ['no streams']
      : [
          'STREAM                                    VERSION  LAST POSITION  LAST EVENT AT',
          ...page.streams.map(
            (s) =>
              `${s.streamId.padEnd(40)} ${String(s.version).padStart(8)}  ${String(s.lastPosition).padStart(13)}  ` +
              `${s.lastTimestamp}${s.deleted ? '  (deleted)' : ''}`,
          ),
          ...(page.next === undefined ? [] : [`more: --after ${page.next}`]),
        ];
  ctx.out.result(page, text);
}

async function show(ctx: Context, streamId: string, options: ShowOptions): Promise<void> {
  const store = await ctx.eventStore();
  const page = await (await inspector(ctx)).readStreamBackward(streamId, options);
  const info = await store.streamInfo(streamId);
  if (info.version === 0 && page.events.length === 0) {
    throw new ChronicleError('NOT_FOUND', `no stream ${JSON.stringify(streamId)}`);
  }
  const text = [
    `${streamId}: version ${info.version}${info.deleted ? ', deleted' : ''}`,
    ...page.events.map(
      (e) => `${String(e.version).padStart(6)}  #${e.position}  ${e.metadata.timestamp}  ${e.type}  ${JSON.stringify(e.data)}`,
    ),
    ...(page.next === undefined ? [] : [`more: --before ${page.next}`]),
  ];
  ctx.out.result({ stream: info, ...page }, text);
}

async function stats(ctx: Context): Promise<void> {
  const inspect = await inspector(ctx);
  const [totals, categories, rate] = await Promise.all([
    inspect.stats(),
    inspect.categories(),
    inspect.writeRate({ windowMs: 60_000, bucketMs: 60_000 }),
  ]);
  const lastMinute = rate.buckets.reduce((sum, b) => sum + b.events, 0);
  const text = [
    `${totals.events} events in ${totals.streams} streams, head at position ${totals.headPosition}; ${lastMinute} written in the last minute`,
    ...(categories.length === 0
      ? []
      : [
          'CATEGORY                  STREAMS     EVENTS',
          ...categories.map((c) => `${c.category.padEnd(24)} ${String(c.streams).padStart(8)} ${String(c.events).padStart(10)}`),
        ]),
  ];
  ctx.out.result({ ...totals, lastMinute, categories }, text);
}
