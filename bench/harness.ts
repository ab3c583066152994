// Shared benchmark plumbing: run a workload, time each operation, print one JSON line and keep a row for the table.

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
  sync: string;
  target?: number;
  note?: string;
};

export const quick = process.argv.includes('--quick');
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

/**
 * Runs `concurrency` workers that each call `op` until `ops` operations are done, timing every call.
 * `eventsPerOp` turns ops into events for the rate.
 */
export async function measure(
  name: string,
  options: { ops: number; concurrency: number; eventsPerOp: number; sync: string; target?: number; unit?: BenchResult['unit'] },
  op: (i: number) => Promise<unknown>,
): Promise<BenchResult> {
  const latencies = new Float64Array(options.ops);
  let next = 0;
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
  latencies.sort();
  const events = options.ops * options.eventsPerOp;
  const unit = options.unit ?? 'events/s';
  return report({
    name,
    rate: Math.round((unit === 'ops/s' ? options.ops : events) / seconds),
    unit,
    ops: options.ops,
    events,
    seconds: +seconds.toFixed(3),
    p50Ms: +percentile(latencies, 50).toFixed(3),
    p99Ms: +percentile(latencies, 99).toFixed(3),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    cpuSeconds: +((user + system) / 1e6).toFixed(3),
    sync: options.sync,
    target: options.target,
  });
}

const results: BenchResult[] = [];

/** Prints a result as one JSON line and remembers it for the closing table. */
export function report(result: BenchResult): BenchResult {
  results.push(result);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return result;
}

/** Prints every result as a table, with the target and whether it was met. */
export function printTable(): void {
  const rows = results.map((r) => ({
    workload: r.name,
    rate: `${r.rate.toLocaleString('en-US')} ${r.unit}`,
    target: r.target ? r.target.toLocaleString('en-US') : '',
    met: r.target ? (r.rate >= r.target ? 'yes' : 'NO') : '',
    'p50 ms': r.p50Ms,
    'p99 ms': r.p99Ms,
    'rss MiB': r.rssMiB,
    sync: r.sync,
  }));
  console.table(rows);
}
