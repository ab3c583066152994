// `node --conditions=chronicle-source --import tsx bench/telemetry.ts [--quick] [--rounds N]`: what telemetry costs a
// command. Commands through the bus (validation, handler, SQLite group commit at synchronous=FULL, 64 in flight over
// 1,000 streams) measured in alternating rounds, three ways in one process:
// - `off`: nothing subscribes to Chronicle's diagnostics channels (the default: no tracing library is even loaded);
// - `otel-no-provider`: instrumentOpenTelemetry() subscribed, but no tracer provider registered (the API's no-op spans);
// - `otel-in-memory`: a BasicTracerProvider with a BatchSpanProcessor into an InMemorySpanExporter, and the
//   AsyncLocalStorage context manager, as an application that traces would run.
// One JSON line per mode (the median round, every round's rate in `rounds`), each against `off`, then a table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  createCommandBus,
  createCommandHandler,
  type Decider,
  defineCommand,
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
const store = createSqliteEventStore({ path: join(dir, 'events.db') });
const bus = createCommandBus().register(
  Add,
  createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.id}` }),
);
const exporter = new InMemorySpanExporter();
const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 4096 });
const provider = new BasicTracerProvider({ spanProcessors: [processor] });
const contextManager = new AsyncLocalStorageContextManager();
let bridge: OpenTelemetryBridge | undefined;
let spansSeen = 0;

type Mode = 'off' | 'otel-no-provider' | 'otel-in-memory';

// Puts the process in one mode: the bridge subscribed or not, the provider and context manager registered or not.
async function enter(mode: Mode): Promise<void> {
  await processor.forceFlush();
  spansSeen += exporter.getFinishedSpans().length;
  exporter.reset();
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

let n = 0;
const op = () => {
  const i = n++;
  return bus.dispatch(Add, { id: String(i % STREAMS), amount: 1 });
};

for (let s = 0; s < STREAMS; s++) await store.append(`counter-${s}`, [{ type: 'Added', data: { amount: 1 } }]);
await warmUp(IN_FLIGHT, op);

const options = { ops: OPS, concurrency: IN_FLIGHT, eventsPerOp: 1, sync: 'full', unit: 'ops/s' as const };
const side = (mode: Mode, note: string): ComparedSide => ({
  name: `telemetry-${mode}`,
  options: { ...options, note },
  before: () => enter(mode),
  op,
  ...(mode !== 'off' && { versus: 'telemetry-off' }),
});
// `--only <text>` keeps the modes whose line name contains it (to profile one with --cpu-prof).
const sides = [
  side('off', 'commands through the bus on SQLite, no subscriber on any diagnostics channel'),
  side('otel-no-provider', 'instrumentOpenTelemetry() with @opentelemetry/api but no tracer provider'),
  side('otel-in-memory', 'BasicTracerProvider + BatchSpanProcessor into an InMemorySpanExporter, ALS context manager'),
].filter((s) => selected(s.name));
await alternateSides(ROUNDS, sides);
await enter('off');
// Two spans per command (the command and its append) when traced: a check that the in-memory mode really traced.
const traced = sides.filter((s) => s.name === 'telemetry-otel-in-memory').length * OPS * ROUNDS;
process.stdout.write(`${JSON.stringify({ name: 'telemetry-spans-exported', spans: spansSeen, tracedCommands: traced })}\n`);
await store.close();
rmSync(dir, { recursive: true, force: true });
printTable();
