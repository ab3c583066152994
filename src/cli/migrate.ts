// `migrate`: brings the stores' tables up to what this version of Chronicle writes, with each adapter's own
// migrations (SQLite: on open; PostgreSQL: the numbered steps, under an advisory lock), before the app starts.
import type { Command } from 'commander';
import type { RunAction } from './program.js';
import { describeStore } from './stores.js';

/** Registers `migrate`. */
export function migrateCommand(program: Command, run: RunAction): void {
  program
    .command('migrate')
    .description("apply the stores' migrations: --store, --read-store, or both")
    .addHelpText(
      'after',
      '\nA SQLite file must exist (the app creates it on first start); a PostgreSQL\nschema is created when missing.',
    )
    .action((_options: unknown, command: Command) =>
      run(command, async (ctx) => {
        const migrated: string[] = [];
        const read = ctx.readStoreSpec();
        if (!ctx.hasStore && !read) {
          throw new Error('migrate needs --store, --read-store or both');
        }
        if (ctx.hasStore) {
          // The first call runs the migrations a store has not run yet.
          await (await ctx.eventStore()).headPosition();
          migrated.push(describeStore(ctx.storeSpec()));
        }
        if (read) {
          await (await ctx.readStore()).list();
          migrated.push(describeStore(read));
        }
        ctx.out.result(
          { migrated },
          migrated.map((store) => `migrated ${store}`),
        );
      }),
    );
}
