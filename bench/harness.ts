// Shared benchmark plumbing: run a workload, time each operation, print one JSON line and keep a row for the table.
import { loadavg } from 'node:os';

export type BenchResult = {
  name: string;
  /** events/s or ops/s, see `unit`. */
  rate: number;
  unit: 'events/s' | 'ops/s';
  ops: number;
  events: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: number;
  /** Process CPU time (user + system) over the run: near `seconds` means CPU-bound, far below means waiting on fsync. */
  cpuSeconds?: number;
  /** CPU time of the database server's processes serving the workload (PostgreSQL backends), on the same cores. */
  serverCpuSeconds?: number;
  sync: string;
  target?: number;
  /** The least `ratio` this line should reach (when its target is relative to its baseline, not a rate). */
  targetRatio?: number;
  /** Name of the bare-driver line measured in the same run for the same work. */
  baseline?: string;
  /** `rate` over the baseline's rate. */
  ratio?: number;
  /**
   * The baseline's CPU per operation over this line's (this process plus the database server's backends, when
   * measured): steadier than `ratio` on a shared machine; above 1 means this line costs less CPU per operation.
   */
  cpuRatio?: number;
  /** One-minute load average when the line was printed: the machine is shared, so a slow line may be a busy machine. */
  load1?: number;
  /** The rate of every round, in the order run, when the line is the median of alternating rounds (`alternate`). */
  rounds?: number[];
  note?: string;
};

/** Measures CPU spent outside this process during a workload (e.g. by the database server's backends). */
export type CpuProbe = { start(): Promise<void>; seconds(): Promise<number | undefined> };

/** One probe measuring what several do together (e.g. the event store's backends and the read store's). */
export function cpuOfAll(...probes: CpuProbe[]): CpuProbe {
  return {
    start: async () => void (await Promise.all(probes.map((p) => p.start()))),
    async seconds() {
      let total = 0;
      for (const seconds of await Promise.all(probes.map((p) => p.seconds()))) {
        if (seconds === undefined) return undefined;
        total += seconds;
      }
      return +total.toFixed(3);
    },
  };
}

export const quick = process.argv.includes('--quick');
const scale = quick ? 0.25 : 1;
/** An operation count, a quarter of it with `--quick`. */
export const scaled = (count: number) => Math.max(100, Math.round(count * scale));
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex === -1 ? undefined : process.argv[onlyIndex + 1];

/** True unless `--only <text>` was given and `name` does not contain it (to profile one workload). */
export function selected(name: string): boolean {
  return only === undefined || name.includes(only);
}

/** Nearest-rank percentile of sorted latencies. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** What `measure` is told about a workload, besides the operation itself. */
export type MeasureOptions = {
  ops: number;
  concurrency: number;
  eventsPerOp: number;
  sync: string;
  target?: number;
  targetRatio?: number;
  unit?: BenchResult['unit'];
  /** The bare-driver line of the same work, for `baseline` and `ratio`. */
  baseline?: BenchResult;
  serverCpu?: CpuProbe;
  note?: string;
  /** Runs once the clock stopped, before the line is printed (e.g. to check the work was done); says what it found. */
  check?: () => Promise<string>;
};

/** One timed run of a workload, not yet printed. */
export type Sample = {
  seconds: number;
  cpuSeconds: number;
  serverCpuSeconds?: number;
  /** Per-operation latencies in ms, sorted. */
  latencies: Float64Array;
  /** What `check` found. */
  found?: string;
};

/** Runs `concurrency` workers that each call `op` until `ops` operations are done, timing every call. */
export async function sample(options: MeasureOptions, op: (i: number) => Promise<unknown>): Promise<Sample> {
  const latencies = new Float64Array(options.ops);
  let next = 0;
  await options.serverCpu?.start();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < options.ops; i = next++) {
      const t = performance.now();
      await op(i);
      latencies[i] = performance.now() - t;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const serverCpuSeconds = await options.serverCpu?.seconds();
  const found = await options.check?.();
  latencies.sort();
  return { seconds, cpuSeconds: (user + system) / 1e6, serverCpuSeconds, latencies, found };
}

/** The rate of a sample, in the workload's unit. */
export const rateOf = (options: MeasureOptions, s: Sample): number =>
  Math.round(((options.unit ?? 'events/s') === 'ops/s' ? options.ops : options.ops * options.eventsPerOp) / s.seconds);

/** The line of a sample (not printed: `report` does that). */
export function lineOf(name: string, options: MeasureOptions, s: Sample): BenchResult {
  const rate = rateOf(options, s);
  return {
    name,
    rate,
    unit: options.unit ?? 'events/s',
    ops: options.ops,
    events: options.ops * options.eventsPerOp,
    seconds: +s.seconds.toFixed(3),
    p50Ms: +percentile(s.latencies, 50).toFixed(3),
    p99Ms: +percentile(s.latencies, 99).toFixed(3),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    cpuSeconds: +s.cpuSeconds.toFixed(3),
    serverCpuSeconds: s.serverCpuSeconds,
    sync: options.sync,
    target: options.target,
    targetRatio: options.targetRatio,
    ...versus(options.baseline, rate),
    note: [options.note, s.found].filter(Boolean).join('; ') || undefined,
  };
}

/**
 * Runs `concurrency` workers that each call `op` until `ops` operations are done, timing every call, and prints the
 * line. `eventsPerOp` turns ops into events for the rate.
 */
export async function measure(name: string, options: MeasureOptions, op: (i: number) => Promise<unknown>): Promise<BenchResult> {
  return report(lineOf(name, options, await sample(options, op)));
}

/** One side of an alternating comparison: a workload, measured once per round (`op` is told the round, from 0). */
export type Side = {
  name: string;
  options: MeasureOptions;
  op: (i: number, round: number) => Promise<unknown>;
  /** Runs before each of the side's rounds, off the clock (e.g. to note where the log stood). */
  before?: (round: number) => Promise<void>;
};

/** A side, and the earlier side (by name) its `baseline`, `ratio` and `cpuRatio` are taken against. */
export type ComparedSide = Side & {
  versus?: string;
  /** Further earlier sides whose ratio is said in the note (`ratio <x>× vs <name>`). */
  alsoVersus?: string[];
};

/**
 * Measures two workloads alternately, `rounds` times (the baseline first in even rounds, the subject first in odd
 * ones), so drift in the machine's load touches both alike; prints each side's median round (by rate) with every
 * round's rate in `rounds`, the subject's with `baseline` and `ratio` against the baseline's median. A side left out
 * (to profile the other alone) is not run.
 */
export async function alternate(rounds: number, baseline: Side | undefined, subject: Side | undefined): Promise<BenchResult[]> {
  const compared = subject && baseline ? { ...subject, versus: baseline.name } : subject;
  return alternateSides(
    rounds,
    [baseline, compared].filter((side): side is ComparedSide => side !== undefined),
  );
}

/**
 * `alternate` for more than two sides (a bare client call, a hand-written floor, Chronicle): measures `sides` in turn
 * for `rounds` rounds (listed order in even rounds, reversed in odd ones) and prints each side's median round (by
 * rate), with every round's rate in `rounds`. Sides are printed in the listed order, so a side can only be compared
 * with one listed before it.
 */
export async function alternateSides(rounds: number, sides: readonly ComparedSide[]): Promise<BenchResult[]> {
  const samples = new Map<ComparedSide, Sample[]>(sides.map((side) => [side, []]));
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      await side.before?.(round);
      samples.get(side)!.push(await sample(side.options, (i) => side.op(i, round)));
    }
  }
  const printed = new Map<string, BenchResult>();
  return sides.map((side) => {
    const all = samples.get(side)!;
    const sorted = [...all].sort((x, y) => rateOf(side.options, x) - rateOf(side.options, y));
    const line = lineOf(side.name, side.options, sorted[(sorted.length - 1) >> 1]);
    const base = side.versus === undefined ? undefined : printed.get(side.versus);
    const others = (side.alsoVersus ?? [])
      .map((name) => printed.get(name))
      .filter((other): other is BenchResult => other !== undefined)
      .map((other) => `ratio ${(line.rate / other.rate).toFixed(2)}× vs ${other.name}`);
    const result = report({
      ...line,
      ...(base && { ...versus(base, line.rate), ...cpuVersus(base, line) }),
      ...(others.length > 0 && { note: [line.note, ...others].filter(Boolean).join('; ') }),
      rounds: all.map((x) => rateOf(side.options, x)),
    });
    printed.set(side.name, result);
    return result;
  });
}

/** Runs `op` twice per caller before a measurement (connections opened, statements prepared, code warm). */
export async function warmUp(concurrency: number, op: (k: number) => Promise<unknown>): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await Promise.all(Array.from({ length: concurrency }, (_, k) => op(round * concurrency + k)));
  }
}

/** The `baseline` and `ratio` fields of a line measured against a bare-driver line of the same run. */
export function versus(baseline: BenchResult | undefined, rate: number): Pick<BenchResult, 'baseline' | 'ratio'> {
  return baseline ? { baseline: baseline.name, ratio: +(rate / baseline.rate).toFixed(2) } : {};
}

// CPU per operation of a line: its process and, when measured, the database server's backends.
const cpuPerOp = (r: BenchResult) =>
  r.cpuSeconds === undefined ? undefined : (r.cpuSeconds + (r.serverCpuSeconds ?? 0)) / r.ops;

/** The `cpuRatio` of a line against a baseline measured the same way. */
export function cpuVersus(baseline: BenchResult, line: BenchResult): Pick<BenchResult, 'cpuRatio'> {
  const base = cpuPerOp(baseline);
  const own = cpuPerOp(line);
  return base === undefined || own === undefined || own === 0 ? {} : { cpuRatio: +(base / own).toFixed(2) };
}

const results: BenchResult[] = [];

/** Prints a result as one JSON line and remembers it for the closing table. */
export function report(line: BenchResult): BenchResult {
  const result = { ...line, load1: line.load1 ?? +loadavg()[0].toFixed(2) };
  results.push(result);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return result;
}

/**
 * Reports a throughput line with no per-operation latency (`events` done in `seconds`, one op per event), against
 * `baseline` when given.
 */
export function reportThroughput(
  name: string,
  events: number,
  seconds: number,
  options: { sync: string; note: string; baseline?: BenchResult },
): BenchResult {
  const rate = Math.round(events / seconds);
  return report({
    name,
    rate,
    unit: 'events/s',
    ops: events,
    events,
    seconds: +seconds.toFixed(3),
    p50Ms: 0,
    p99Ms: 0,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    sync: options.sync,
    ...versus(options.baseline, rate),
    note: options.note,
  });
}

// Whether a line with a relative target reached it ('' when it has none, or no ratio because its baseline was not run).
const metRatio = (r: BenchResult) =>
  r.targetRatio === undefined || r.ratio === undefined ? '' : r.ratio >= r.targetRatio ? 'yes' : 'NO';

/** Prints every result as a table, with the target and whether it was met. */
export function printTable(): void {
  const rows = results.map((r) => ({
    workload: r.name,
    rate: `${r.rate.toLocaleString('en-US')} ${r.unit}`,
    target: r.target ? r.target.toLocaleString('en-US') : r.targetRatio ? `${r.targetRatio}×` : '',
    met: r.target ? (r.rate >= r.target ? 'yes' : 'NO') : metRatio(r),
    'vs baseline': r.ratio === undefined ? '' : `${r.ratio}×`,
    'cpu vs baseline': r.cpuRatio === undefined ? '' : `${r.cpuRatio}×`,
    'p50 ms': r.p50Ms,
    'p99 ms': r.p99Ms,
    'rss MiB': r.rssMiB,
    sync: r.sync,
  }));
  console.table(rows);
}
