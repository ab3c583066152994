// The NATS server the JetStream bench measures against: a nats-server of its own (-js, a fresh store dir, a free port),
// so the shared server's other clients (other test runs on this machine) neither slow it nor count in its CPU, and the
// CPU the broker spends on a workload can be read from its process. `--nats-url <url>` measures an existing server
// instead (its CPU then unknown).
// (Benchmark tooling, not library code: the transport is imported here and in bench/nats.ts.)
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { privateNats } from '../test/support/private-nats.js';
import type { CpuProbe } from './harness.js';
import { processCpu } from './process-cpu.js';

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
  const nats = await privateNats({ binary: NATS_SERVER });
  return {
    url: nats.url,
    description: `private nats-server ${version()} (-js, file store under ${tmpdir()})`,
    connect: () => connect({ servers: nats.url, maxReconnectAttempts: -1 }),
    cpu: () => processCpu(nats.pid),
    close: () => nats.dispose(),
  };
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
