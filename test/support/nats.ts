// NATS JetStream for tests: whether the shared server answers (CI fails loudly when not; a developer machine without
// one skips with the printed reason), and private servers on free ports for tests that stop and restart the broker.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** The shared server; STACK.md: nats-server 2.9 with -js on localhost:4222. */
export const NATS_URL = process.env.CHRONICLE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_SERVER = process.env.CHRONICLE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

async function reachable(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 3000, reconnect: false });
    try {
      const info = nc.info;
      if (!info?.jetstream) return 'the server runs without JetStream (-js)';
    } finally {
      await nc.close();
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const unreachable = await reachable();
if (unreachable !== undefined) {
  const reason = `NATS at ${NATS_URL} does not answer with JetStream (${unreachable}); start it with the command in STACK.md`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(`skipping NATS tests: ${reason}`);
}

/** False only on a developer machine without the server (CI throws instead): use with `describe.skipIf(!natsAvailable)`. */
export const natsAvailable = unreachable === undefined;

/** A connection to the shared server; the caller closes it. */
export function connectNats(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL });
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A nats-server of the test's own, with JetStream in a temp dir: stop and start it again on the same port and store. */
export type PrivateNats = {
  readonly url: string;
  readonly port: number;
  /** Starts it (again) and resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM (or `signal`) and wait for the process to end; JetStream data in the store dir survives. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes its store dir. */
  dispose(): Promise<void>;
};

export async function privateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
  };
  const start = async () => {
    if (child) return;
    child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    const started = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`nats-server on ${port} exited with ${started.exitCode}`);
      try {
        const nc = await connect({ servers: url, timeout: 500, reconnect: false });
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await start();
  return {
    url,
    port,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
