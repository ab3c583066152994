// The `chronicle` command line: global options naming the stores, and one command group per file.
import { Command, CommanderError } from 'commander';
import { Context, type GlobalOptions } from './context.js';
import { eventsCommands } from './events.js';
import { migrateCommand } from './migrate.js';
import { Output, type Streams } from './output.js';
import { projectionsCommands } from './projections.js';
import { streamsCommands } from './streams.js';
import { transferCommands } from './transfer.js';

/** Runs one command's action against the stores its options name; they are closed after it, whatever it does. */
export type RunAction = (command: Command, action: (ctx: Context) => Promise<void>) => Promise<void>;

/** A failure the CLI reports as one line, with the process's exit code. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Builds the program. Every action's failure is printed as one line by `run` (so a test runs it in-process the way
 * the bin does); `main.ts` turns the returned code into the process's exit code.
 */
export function createProgram(streams: Streams): { program: Command; exitCode: () => number } {
  let code = 0;
  const program = new Command('chronicle')
    .description('Operate a Chronicle event store and its read store: inspect, tail, export/import, migrate, projections.')
    .option('--store <where>', 'the event store: a SQLite file or a postgres:// URL')
    .option('--read-store <where>', 'the read store: a SQLite file, a postgres:// or a redis:// URL')
    .option('--schema <name>', 'PostgreSQL schema of the stores', 'chronicle')
    .option('--read-schema <name>', "PostgreSQL schema of the read store, when not --schema's")
    .option('--redis-prefix <prefix>', 'key prefix of a Redis read store', 'chronicle')
    .option('--tenant <id>', 'the tenant whose stores the {tenant} in --store, --read-store or --schema names')
    .option('--json', 'print results as JSON (and progress as JSON lines on stderr), for scripts')
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
    })
    .exitOverride();

  const run: RunAction = async (command, action) => {
    const options = command.optsWithGlobals() as GlobalOptions;
    const out = new Output(options.json === true, streams);
    const ctx = new Context(out, options);
    try {
      await action(ctx);
    } catch (err) {
      out.failure(err);
      code = err instanceof CliExit ? err.exitCode : 1;
    } finally {
      await ctx.close();
    }
  };
  for (const register of [streamsCommands, eventsCommands, projectionsCommands, transferCommands, migrateCommand]) {
    register(program, run);
  }

  return {
    program,
    exitCode: () => code,
  };
}

/**
 * Parses `argv` (the user's arguments, without node and the script) and runs the command; resolves with the exit
 * code: 0, 1 for a failure, 2 for a usage error (unknown command or option, a bad value).
 */
export async function runCli(argv: readonly string[], streams: Streams): Promise<number> {
  const { program, exitCode } = createProgram(streams);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander already printed its one-line message for the rest.
      return err.exitCode === 0 ? 0 : 2;
    }
    new Output(false, streams).failure(err);
    return 1;
  }
  return exitCode();
}
