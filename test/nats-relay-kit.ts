// What the relay's integration tests share: fresh stream names, everything a JetStream stream holds in stream order,
// and the check that it holds every event of the log exactly once, in position order.
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import type { RecordedEvent } from 'chronicle-es';
import { MSG_ID, positionOf } from 'chronicle-es/nats';
import { expect } from 'vitest';

/** A stream name and subject prefix no other test uses. */
export function freshNames(label: string) {
  const token = randomUUID().replaceAll('-', '').slice(0, 10);
  return { stream: `RELAY_${label}_${token}`, prefix: `relay_${label}_${token}` };
}

export type StreamMessage = {
  seq: number;
  subject: string;
  id: string;
  position: number | undefined;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
};

/** Every message the stream holds, in stream order, read with an ordered consumer. */
export async function streamMessages(nats: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nats);
  const total = (await jsm.streams.info(stream)).state.messages;
  const out: StreamMessage[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nats).consumers.get(stream);
  let emptyFetches = 0;
  while (out.length < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, total - out.length), expires: 2000 });
    const before = out.length;
    for await (const m of batch) {
      out.push({
        seq: m.seq,
        subject: m.subject,
        id: m.headers?.get(MSG_ID) ?? '',
        position: positionOf(m.headers),
        headers: m.headers,
        data: m.data,
      });
    }
    if (out.length === before && ++emptyFetches > 5) throw new Error(`stream ${stream}: read ${out.length} of ${total} messages`);
  }
  await consumer.delete().catch(() => {});
  return out;
}

/** The stream holds exactly `events`, each once (by Nats-Msg-Id), in position order; returns the counts. */
export function expectExactlyOnce(messages: readonly StreamMessage[], events: readonly RecordedEvent[]) {
  const ids = messages.map((m) => m.id);
  const distinct = new Set(ids).size;
  const counts = { messages: messages.length, distinctIds: distinct, events: events.length };
  expect(counts).toEqual({ messages: events.length, distinctIds: events.length, events: events.length });
  expect(messages.map((m) => m.position)).toEqual(events.map((e) => e.position));
  expect(ids).toEqual(events.map((e) => e.id));
  return counts;
}

/** Deletes the streams (and KV buckets, by their stream names) a test file created. */
export async function deleteStreams(nats: NatsConnection, streams: readonly string[]): Promise<void> {
  const jsm = await jetstreamManager(nats);
  await Promise.all(streams.map((s) => jsm.streams.delete(s).catch(() => false)));
}

/** Polls `what` until true (every 20 ms, up to `ms`); the label says what was awaited when it times out. */
export async function until(what: () => boolean | Promise<boolean>, label: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await what()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
