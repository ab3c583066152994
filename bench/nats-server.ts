// The NATS server the JetStream bench measures against: a nats-server of its own (-js, a fresh store dir, a free port),
// so the shared server's other clients (other test runs on this machine) neither slow it nor count in its CPU, and the
// CPU the broker spends on a workload can be read from its process. `--nats-url <url>` measures an existing server
// instead (its CPU then unknown).
// (Benchmark tooling, not library code: the transport is imported here and in bench/nats.ts.)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { CpuProbe } from './harness.js';

const NATS_SERVER = process.env.CHRONICLE_BENCH_NATS_SERVER ?? '/usr/sbin/nats-server';

/** The broker of one bench run. */
export type BenchNats = {
  readonly url: string;
  /** Where it was, e.g. `private nats-server 2.9.10, file store in /tmp/...`. */
  readonly description: string;
  /** A new connection; the caller closes it. */
  connect(): Promise<NatsConnection>;
  /** CPU the broker's process spends meanwhile; undefined seconds for a server not started here. */
  cpu(): CpuProbe;
  /** Stops the server started here (and removes its store), or does nothing. */
  close(): Promise<void>;
};

const urlAt = process.argv.indexOf('--nats-url');

/** The server to measure: `--nats-url`, or a private nats-server started now. */
export async function openBenchNats(): Promise<BenchNats> {
  if (urlAt !== -1) {
    const url = process.argv[urlAt + 1];
    return {
      url,
      description: `nats-server at ${url}`,
      connect: () => connect({ servers: url, maxReconnectAttempts: -1 }),
      cpu: () => ({ start: async () => {}, seconds: async () => undefined }),
      close: async () => {},
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-bench-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready(child, url);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url,
    description: `private nats-server ${version()} (-js, file store under ${tmpdir()})`,
    connect: () => connect({ servers: url, maxReconnectAttempts: -1 }),
    cpu: () => processCpu(child.pid),
    close,
  };
}

async function ready(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${NATS_SERVER} exited with ${child.exitCode} before accepting connections`);
    try {
      const nc = await connect({ servers: url, timeout: 500, reconnect: false });
      await nc.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function version(): string {
  try {
    return execFileSync(NATS_SERVER, ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^nats-server:\s*v?/, '');
  } catch {
    return '(version unknown)';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

// utime + stime of a process in clock ticks (/proc/<pid>/stat fields 14 and 15, counted after the command name).
function ticksOf(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function processCpu(pid: number | undefined): CpuProbe {
  let before: number | undefined;
  return {
    async start() {
      before = ticksOf(pid);
    },
    async seconds() {
      const after = ticksOf(pid);
      return before === undefined || after === undefined ? undefined : +((after - before) / CLOCK_TICKS).toFixed(3);
    },
  };
}
