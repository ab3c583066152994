// `node --conditions=chronicle-source --import tsx bench/telemetry.ts [--quick] [--rounds N]`: what telemetry costs a
// command. Commands through the bus (validation, handler, SQLite group commit at synchronous=FULL, 64 in flight over
// 1,000 streams) measured in alternating rounds, three ways in one process:
// - `off`: nothing subscribes to Chronicle's diagnostics channels (the default: no tracing library is even loaded);
// - `otel-no-provider`: instrumentOpenTelemetry() subscribed, but no tracer provider registered (the API's no-op spans);
// - `otel-in-memory`: a BasicTracerProvider with a BatchSpanProcessor into an InMemorySpanExporter, and the
//   AsyncLocalStorage context manager, as an application that traces would run.
// One JSON line per mode (the median round, every round's rate in `rounds`), each against `off`, then a table. The same
// three again on the in-memory store, where nothing waits on a disk, so the lines show the CPU a span costs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  createCommandBus,
  createCommandHandler,
  createInMemoryEventStore,
  type Decider,
  defineCommand,
  type EventStore,
  instrumentOpenTelemetry,
  type OpenTelemetryBridge,
} from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { z } from 'zod';
import { alternateSides, type ComparedSide, printTable, quick, scaled, selected, warmUp } from './harness.js';

const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = roundsAt === -1 ? (quick ? 2 : 3) : Number(process.argv[roundsAt + 1]);
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds takes a positive integer');
const OPS = scaled(20_000);
const IN_FLIGHT = 64;
const STREAMS = 1000;

const Add = defineCommand('Add', z.object({ id: z.string(), amount: z.number().int() }));
type AddCommand = { type: 'Add'; data: { id: string; amount: number } };
const counter: Decider<AddCommand, { type: 'Added'; data: { amount: number } }, number> = {
  initialState: 0,
  decide: (c) => [{ type: 'Added', data: { amount: c.data.amount } }],
  evolve: (s, e) => s + e.data.amount,
};

const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-telemetry-'));
const exporter = new InMemorySpanExporter();
const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 4096 });
const provider = new BasicTracerProvider({ spanProcessors: [processor] });
const contextManager = new AsyncLocalStorageContextManager();
let bridge: OpenTelemetryBridge | undefined;
let spansSeen = 0;

type Mode = 'off' | 'otel-no-provider' | 'otel-in-memory';

function drain(): void {
  spansSeen += exporter.getFinishedSpans().length;
  exporter.reset();
}

// Puts the process in one mode: the bridge subscribed or not, the provider and context manager registered or not.
async function enter(mode: Mode): Promise<void> {
  await processor.forceFlush();
  drain();
  bridge?.close();
  bridge = undefined;
  trace.disable();
  context.disable();
  if (mode === 'off') return;
  bridge = await instrumentOpenTelemetry();
  if (mode === 'otel-in-memory') {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  }
}

let tracedCommands = 0;

async function modes(kind: 'sqlite' | 'memory', store: EventStore, sync: string, ops: number): Promise<void> {
  const bus = createCommandBus().register(
    Add,
    createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.id}` }),
  );
  let n = 0;
  const op = () => {
    const i = n++;
    // The exporter is emptied as a real one ships spans away: a heap of retained spans would bill GC to tracing.
    if (i % 1000 === 0) drain();
    return bus.dispatch(Add, { id: String(i % STREAMS), amount: 1 });
  };
  const options = { ops, concurrency: IN_FLIGHT, eventsPerOp: 1, sync, unit: 'ops/s' as const };
  const where = kind === 'sqlite' ? 'on SQLite' : 'on the in-memory store';
  const side = (mode: Mode, note: string): ComparedSide => ({
    name: `telemetry-${kind}-${mode}`,
    options: { ...options, note: `commands through the bus ${where}; ${note}` },
    before: () => enter(mode),
    op,
    ...(mode !== 'off' && { versus: `telemetry-${kind}-off` }),
  });
  // `--only <text>` keeps the lines whose name contains it (to profile one with --cpu-prof).
  const sides = [
    side('off', 'no subscriber on any diagnostics channel'),
    side('otel-no-provider', 'instrumentOpenTelemetry() with @opentelemetry/api but no tracer provider'),
    side('otel-in-memory', 'BasicTracerProvider + BatchSpanProcessor into an InMemorySpanExporter, ALS context manager'),
  ].filter((s) => selected(s.name));
  if (sides.length === 0) return;
  for (let s = 0; s < STREAMS; s++) await store.append(`counter-${s}`, [{ type: 'Added', data: { amount: 1 } }]);
  await warmUp(IN_FLIGHT, op);
  await alternateSides(ROUNDS, sides);
  await enter('off');
  tracedCommands += sides.filter((s) => s.name.endsWith('otel-in-memory')).length * ops * ROUNDS;
}

const sqlite = createSqliteEventStore({ path: join(dir, 'events.db') });
await modes('sqlite', sqlite, 'full', OPS);
await sqlite.close();
await modes('memory', createInMemoryEventStore(), 'memory', OPS * 2);
// Two spans per traced command (the command and its append): a check that the in-memory mode really traced.
process.stdout.write(`${JSON.stringify({ name: 'telemetry-spans-exported', spans: spansSeen, tracedCommands })}\n`);
rmSync(dir, { recursive: true, force: true });
printTable();
