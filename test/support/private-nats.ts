// Private nats-servers on free ports, with no side effect at import (test/support/nats.ts probes the shared server
// when imported; the JetStream bench starts its own broker with this and must not depend on the shared one).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';

const NATS_SERVER = process.env.CHRONICLE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

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
  /** The running server's process id; undefined while it is stopped. */
  readonly pid: number | undefined;
  /** Starts it (again) and resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM (or `signal`) and wait for the process to end; JetStream data in the store dir survives. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes its store dir. */
  dispose(): Promise<void>;
};

/** What `privateNats` runs. */
export type PrivateNatsOptions = {
  /** The nats-server executable; default `CHRONICLE_TEST_NATS_SERVER` or /usr/sbin/nats-server. */
  binary?: string;
};

/**
 * Starts a nats-server with JetStream on a free port and a fresh store dir, resolving once it accepts connections.
 * @throws when it exits or does not accept connections within 10 s (it is then stopped and its store dir removed).
 */
export async function privateNats(options: PrivateNatsOptions = {}): Promise<PrivateNats> {
  const binary = options.binary ?? NATS_SERVER;
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
    child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    const started = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`${binary} on ${port} exited with ${started.exitCode}`);
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
  const dispose = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (err) {
    // Nobody holds the handle yet to dispose of it: a server that never answered is not left running.
    await dispose();
    throw err;
  }
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    start,
    stop,
    dispose,
  };
}
