// `events tail`: follows the global log live (or from a position), filtered by category and type, until Ctrl-C.
import type { EventFilter, RecordedEvent } from 'chronicle-es';
import type { Command } from 'commander';
import type { Context } from './context.js';
import { collect, position, positiveInt } from './parse.js';
import type { RunAction } from './program.js';

type TailOptions = { from?: number; category?: string[]; type?: string[]; max?: number };

/** Registers the `events` group. */
export function eventsCommands(program: Command, run: RunAction): void {
  const events = program.command('events').description('read the event log');
  events
    .command('tail')
    .description('print events as they are appended (from the head, or --from a position) until Ctrl-C')
    .option('--from <position>', 'start at this global position (inclusive) instead of after the head', position)
    .option('--category <name>', 'only streams of this category (the id before its first -); repeatable', collect)
    .option('--type <type>', 'only events of this type; repeatable', collect)
    .option('--max <n>', 'stop after n events', positiveInt)
    .addHelpText('after', '\nOne event per line: position, stream@version, type, data; with --json, one JSON\nobject per line.')
    .action((options: TailOptions, command: Command) => run(command, (ctx) => tail(ctx, options)));
}

async function tail(ctx: Context, options: TailOptions): Promise<void> {
  const store = await ctx.eventStore();
  const from = options.from ?? (await store.headPosition()) + 1;
  const filter: EventFilter = {};
  if (options.category) filter.categories = options.category;
  if (options.type) filter.types = options.type;
  let printed = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  // Ctrl-C ends the tail after the batch being printed, and the stores close cleanly.
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);
  const subscription = store.subscribe({ from, filter, pollIntervalMs: 100 }, (batch) => {
    for (const event of batch) {
      if (options.max !== undefined && printed >= options.max) break;
      ctx.out.line(ctx.out.json ? JSON.stringify(event) : describe(event));
      printed++;
    }
    if (options.max !== undefined && printed >= options.max) finish();
  });
  try {
    ctx.out.note(`following from position ${from} (Ctrl-C to stop)`);
    await Promise.race([finished, subscription.done]);
  } finally {
    process.off('SIGINT', finish);
    process.off('SIGTERM', finish);
    await subscription.stop();
  }
  await subscription.done;
  ctx.out.note(`stopped after ${printed} events`);
}

function describe(e: RecordedEvent): string {
  return `${e.position} ${e.streamId}@${e.version} ${e.type} ${JSON.stringify(e.data)}`;
}
