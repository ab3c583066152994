// `projections status|rebuild|retry|skip`. Status reads the read store's records against the log's head. The
// operations run in the app: the CLI does not know its handlers, so it leaves a control request in the read store,
// the projector running the projection takes it (exactly one does) and carries it out, and the CLI follows it, a
// rebuild with its progress, until it is settled. No projector taking it in time is a failure, never a hang.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChronicleError,
  type ControlAction,
  type ControlRequest,
  type ProjectionControl,
  type ProjectionRecord,
} from 'chronicle-es';
import type { Command } from 'commander';
import type { Context } from './context.js';
import { seconds } from './parse.js';
import { CliExit, type RunAction } from './program.js';

type ControlOptions = { timeout: number; stallTimeout: number };

const POLL_MS = 250;

/** Registers the `projections` group. */
export function projectionsCommands(program: Command, run: RunAction): void {
  const projections = program
    .command('projections')
    .description("the read store's projections: their state, and the operator's rebuild, retry and skip");
  projections
    .command('status')
    .description('state, position and lag of every projection (or one); lag needs --store')
    .argument('[name]', 'one projection')
    .action((name: string | undefined, _options: unknown, command: Command) => run(command, (ctx) => status(ctx, name)));

  const operation = (action: ControlAction, description: string) =>
    projections
      .command(action)
      .description(description)
      .argument('<name>', 'the projection')
      .option('--timeout <seconds>', 'how long a running projector has to take the request', seconds, 10)
      .option('--stall-timeout <seconds>', 'give up when a taken request shows no progress for this long', seconds, 120)
      .addHelpText(
        'after',
        '\nThe app running the projection carries it out: its projector takes the request\n' +
          'from the read store, and its queries keep answering meanwhile. Exits non-zero\n' +
          'when no running projector takes the request in time.',
      )
      .action((name: string, options: ControlOptions, command: Command) =>
        run(command, (ctx) => request(ctx, name, action, options)),
      );
  operation('rebuild', 'rebuild a projection into fresh tables while the current ones serve, then swap; shows progress');
  operation('retry', 'restart a failed projection from its failing event');
  operation('skip', "record a failed projection's failing event as skipped and go on after it");
}

type StatusRow = {
  name: string;
  state: 'live' | 'catching_up' | 'rebuilding' | 'failed';
  version: number;
  generation: number;
  position: number;
  lagEvents?: number;
  rebuild?: { generation: number; version: number; position: number };
  lastError?: ProjectionRecord['failure'];
  /** The worker holding its lease, when the read store keeps leases. */
  owner?: string;
};

async function status(ctx: Context, name: string | undefined): Promise<void> {
  const read = await ctx.readStore();
  const records = name === undefined ? await read.list() : [await known(ctx, name)];
  const head = ctx.hasStore ? await (await ctx.eventStore()).headPosition() : undefined;
  // With leases, which worker runs each projection (an expired lease means none does now).
  const now = Date.now();
  const owners = new Map(
    (await read.leases?.list())?.filter((l) => Date.parse(l.expiresAt) > now).map((l) => [l.projection, l.owner]),
  );
  const rows = records.map((r) => ({ ...row(r, head), ...(owners.has(r.name) && { owner: owners.get(r.name) }) }));
  const text =
    rows.length === 0
      ? ['no projections in this read store']
      : [
          'NAME                     STATE        VERSION  POSITION  LAG',
          ...rows.map(
            (r) =>
              `${r.name.padEnd(24)} ${r.state.padEnd(12)} ${String(r.version).padStart(7)}  ${String(r.position).padStart(8)}  ` +
              `${r.lagEvents ?? '-'}` +
              (r.rebuild ? `  (rebuild at ${r.rebuild.position})` : '') +
              (r.owner ? `  on ${r.owner}` : '') +
              (r.lastError ? `  error: ${r.lastError.message}` : ''),
          ),
        ];
  ctx.out.result({ head, projections: rows }, text);
}

function row(r: ProjectionRecord, head: number | undefined): StatusRow {
  const failedServing = r.failure && (r.failure.generation === undefined || r.failure.generation === r.generation);
  const state = failedServing
    ? 'failed'
    : r.rebuild
      ? 'rebuilding'
      : head === undefined || r.position >= head
        ? 'live'
        : 'catching_up';
  return {
    name: r.name,
    state,
    version: r.version,
    generation: r.generation,
    position: r.position,
    ...(head !== undefined && { lagEvents: Math.max(0, head - r.position) }),
    ...(r.rebuild && { rebuild: r.rebuild }),
    ...(r.failure && { lastError: r.failure }),
  };
}

async function known(ctx: Context, name: string): Promise<ProjectionRecord> {
  const record = await (await ctx.readStore()).load(name);
  if (!record) {
    throw new ChronicleError('NOT_FOUND', `no projection ${JSON.stringify(name)} in this read store`);
  }
  return record;
}

async function request(ctx: Context, name: string, action: ControlAction, options: ControlOptions): Promise<void> {
  const read = await ctx.readStore();
  const control = read.control;
  if (!control) throw new ChronicleError('INVALID_ARGUMENT', 'this read store keeps no control requests');
  const before = await known(ctx, name);
  // The head is read first, so a wrong --store fails before anything is asked of the app.
  const events = ctx.hasStore ? await ctx.eventStore() : undefined;
  await events?.headPosition();
  const started = Date.now();
  const made = await control.request(name, action, Math.round(options.timeout * 1000));
  ctx.out.note(`asked for a ${action} of ${name}; waiting up to ${options.timeout} s for a running projector to take it`);

  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
  };
  process.once('SIGINT', interrupt);
  try {
    const taken = await waitTaken(control, made, options.timeout, () => interrupted);
    if (taken === 'interrupted') throw new CliExit(130, `interrupted: the ${action} request was withdrawn, nothing was done`);
    if (taken === undefined) {
      throw new CliExit(
        3,
        `no running projector took the ${action} request for ${name} within ${options.timeout} s: ` +
          'is the app running on this read store? (the request was withdrawn)',
      );
    }
    ctx.out.note(`${action} of ${name} taken by ${taken.takenBy}`);
    const progress = action === 'rebuild' ? ctx.out.progress(`rebuild ${name}`) : undefined;
    let lastChange = Date.now();
    let lastSeen = '';
    for (;;) {
      if (interrupted) {
        progress?.stop();
        throw new CliExit(130, `interrupted: the ${action} of ${name} goes on in the app (projections status shows it)`);
      }
      const current = await control.get(made.id);
      if (current?.state === 'done' || current?.state === 'failed') {
        // Swapped in: the bar ends at live, even when the rebuild was over before the first look at its progress.
        if (progress && current.state === 'done') {
          const record = await read.load(name);
          const target = Math.max(record?.position ?? 0, events ? await events.headPosition() : 0);
          progress.update(target, target);
        }
        progress?.stop();
        if (current.state === 'failed') {
          const code = current.error?.code ? ` (${current.error.code})` : '';
          throw new ChronicleError('PROJECTION_FAILED', `${action} of ${name} failed${code}: ${current.error?.message}`);
        }
        break;
      }
      const record = await read.load(name);
      const seen = JSON.stringify([record?.position, record?.rebuild?.position, record?.generation]);
      if (seen !== lastSeen) {
        lastSeen = seen;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > options.stallTimeout * 1000) {
        progress?.stop();
        throw new CliExit(
          3,
          `the ${action} of ${name} shows no progress for ${options.stallTimeout} s: is the app that took it still running?`,
        );
      }
      if (progress && record) {
        // The rebuild swaps in once it reaches the served checkpoint, which keeps moving while the app serves.
        const target = Math.max(record.position, events ? await events.headPosition() : 0);
        progress.update(record.rebuild?.position ?? (record.generation !== before.generation ? target : 0), target);
      }
      await sleep(POLL_MS);
    }
    const after = await known(ctx, name);
    const ms = Date.now() - started;
    const report = {
      projection: name,
      action,
      takenBy: taken.takenBy,
      generation: after.generation,
      position: after.position,
      ms,
    };
    const text =
      action === 'rebuild'
        ? `rebuilt ${name}: generation ${before.generation} → ${after.generation}, at position ${after.position}, in ${ms} ms`
        : `${action} of ${name} done: at position ${after.position}${after.failure ? `, failed again: ${after.failure.message}` : ''}`;
    ctx.out.result(report, text);
  } finally {
    process.off('SIGINT', interrupt);
  }
}

// Waits for a projector to take the request; withdraws it at the timeout (or on Ctrl-C) unless taken meanwhile.
async function waitTaken(
  control: ProjectionControl,
  made: ControlRequest,
  timeoutSeconds: number,
  interrupted: () => boolean,
): Promise<ControlRequest | undefined | 'interrupted'> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const current = await control.get(made.id);
    if (current && current.state !== 'pending') return current.state === 'cancelled' ? undefined : current;
    if (interrupted() || Date.now() >= deadline) {
      if (await control.cancel(made.id)) return interrupted() ? 'interrupted' : undefined;
      // Taken in the meantime: follow it.
      return control.get(made.id);
    }
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}
