// What the HTTP benches share (bench/http.ts, and the read-node line of bench/nats.ts): servers in processes of their
// own on free ports, autocannon rounds against them with the server's CPU per request, alternating comparisons.
// No side effect at import: http.ts runs its bench when imported, so nothing here may live there.
import { type ChildProcess, spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { freePort } from '../test/support/private-nats.js';
import { cpuSecondsOf } from './process-cpu.js';

/** The admin key the benched Shops are started with (`SHOP_API_KEYS=<key>:admin`). */
export const ADMIN_KEY = 'bench-admin-key-0123456789';
/** autocannon connections per round (loopback). */
export const CONNECTIONS = 32;

/** A server in a process of its own. */
export type Server = { url: string; child: ChildProcess };

/** One autocannon round's figures. */
export type Measured = {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  total: number;
  /** Server process CPU time (user + system, all threads) per answered request, in µs; undefined off Linux. */
  cpuUsPerRequest?: number;
  /** The same for `otherPid` (e.g. the Redis server), when given and readable. */
  otherCpuUsPerRequest?: number;
};

export type StartOptions = {
  /** Names the server in errors; the script by default. */
  label?: string;
  /** Writes a CPU profile on exit (`--cpu-prof`, into CPU_PROF_DIR or the working directory). */
  cpuProf?: boolean;
  /** How long `/health` may take to answer 200; 30 s by default. */
  healthyWithinMs?: number;
};

/**
 * Starts `script` under tsx in its own process (as the Shop is deployed), with `env` over this process's and PORT set
 * to a free port; resolves once `/health` answers 200.
 * @throws when the process exits first or `/health` does not answer 200 in time (the process is left to `stop`).
 */
export async function startServer(script: string, env: Record<string, string>, options: StartOptions = {}): Promise<Server> {
  const { label = script, cpuProf = false, healthyWithinMs = 30_000 } = options;
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--conditions=chronicle-source',
      '--import',
      'tsx',
      ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR ?? process.cwd()}`] : []),
      script,
    ],
    { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (const started = Date.now(); ; ) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}`);
    const health = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (health === 200) return { url, child };
    if (Date.now() - started > healthyWithinMs) throw new Error(`${label} did not become healthy in ${healthyWithinMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, and resolves once the process has ended (at once if it already had, by exit or by signal). */
export async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** µs of CPU per request between two `cpuSecondsOf` readings; undefined when either is unknown or nothing was answered. */
export function cpuPerRequest(before: number | undefined, after: number | undefined, requests: number): number | undefined {
  return before === undefined || after === undefined || requests === 0
    ? undefined
    : Math.round(((after - before) * 1e6) / requests);
}

/** One autocannon round of `seconds` against `server` (CONNECTIONS connections), with its CPU (and `otherPid`'s). */
export async function load(server: Server, seconds: number, request: autocannon.Request, otherPid?: number): Promise<Measured> {
  const cpuBefore = cpuSecondsOf(server.child.pid);
  const otherBefore = cpuSecondsOf(otherPid);
  const result = await autocannon({ url: server.url, connections: CONNECTIONS, duration: seconds, requests: [request] });
  const total = result.requests.total;
  return {
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    total,
    cpuUsPerRequest: cpuPerRequest(cpuBefore, cpuSecondsOf(server.child.pid), total),
    otherCpuUsPerRequest: cpuPerRequest(otherBefore, cpuSecondsOf(otherPid), total),
  };
}

/** The two sides of `compare`: each runs one round of the given seconds. */
export type Compared = { subject: (seconds: number) => Promise<Measured>; baseline: (seconds: number) => Promise<Measured> };

/**
 * Warms both sides up (`warmUpSeconds`, the baseline first), then runs `rounds` alternating rounds of `seconds` (the
 * baseline first in even rounds, the subject first in odd ones, so drift in the machine's load touches both alike) and
 * returns each side's median round (by requests/s) and every round's [subject, baseline] requests/s.
 */
export async function compare(sides: Compared, rounds: number, seconds: number, warmUpSeconds: number) {
  for (const side of [sides.baseline, sides.subject]) await side(warmUpSeconds);
  const results = { subject: [] as Measured[], baseline: [] as Measured[] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['baseline', 'subject'] as const) : (['subject', 'baseline'] as const);
    for (const which of order) results[which].push(await sides[which](seconds));
  }
  const median = (list: Measured[]) => [...list].sort((a, b) => a.requestsPerSec - b.requestsPerSec)[(list.length - 1) >> 1];
  return {
    subject: median(results.subject),
    baseline: median(results.baseline),
    rounds: results.subject.map((s, i) => [s.requestsPerSec, results.baseline[i].requestsPerSec]),
  };
}

/** Calls `each(0..count-1)` from 64 workers at once (seeding through a command bus), resolving when all are done. */
export async function inParallel(count: number, each: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < count; i = next++) await each(i);
    }),
  );
}
