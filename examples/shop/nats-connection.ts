// The Shop's connection to NATS: the user's choice of transport (Node's), made so that it never gives up reconnecting,
// since the relay and the JetStream source ride out a server restart only while their connection is alive.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ChronicleError } from 'chronicle-es';
import { redactNatsUser } from './jetstream-names.js';

/**
 * Connects to the first of `servers` that answers, and from then on reconnects forever (the client's default stops
 * after 10 attempts and closes the connection, which would stop the relay with CLOSED).
 * @throws STORE_ERROR when no server answers now, naming them without credentials
 */
export async function connectShopNats(servers: readonly string[], name: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: [...servers],
      name,
      timeout: 5000,
      reconnect: true,
      maxReconnectAttempts: -1,
      // Back within about half a second of a restarted server accepting connections.
      reconnectTimeWait: 500,
    });
  } catch (err) {
    const where = servers.map(redactNatsUser).join(', ');
    throw new ChronicleError('STORE_ERROR', `cannot reach NATS at ${where}: ${(err as Error).message}`, { cause: err });
  }
}
