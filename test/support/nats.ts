// NATS JetStream for tests: whether the shared server answers (CI fails loudly when not; a developer machine without
// one skips with the printed reason), and private servers on free ports for tests that stop and restart the broker
// (private-nats.ts, re-exported here).
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** The shared server; STACK.md: nats-server 2.9 with -js on localhost:4222. */
export const NATS_URL = process.env.CHRONICLE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

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

export { freePort, type PrivateNats, type PrivateNatsOptions, privateNats } from './private-nats.js';
