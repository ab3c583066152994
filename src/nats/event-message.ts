// How a committed event travels over JetStream: its subject, its headers, its body. The relay encodes with these and
// the source decodes with them, so the two sides cannot disagree about the format.

import { type MsgHdrs, headers as natsHeaders } from '@nats-io/nats-core';
import { ChronicleError, categoryOf, type RecordedEvent } from 'chronicle-es';

/** Header names set on every published event (besides `Nats-Msg-Id`, the event id, which JetStream dedupes on). */
export const EventHeaders = {
  position: 'Chronicle-Position',
  streamId: 'Chronicle-Stream-Id',
  version: 'Chronicle-Version',
  type: 'Chronicle-Type',
  correlationId: 'Chronicle-Correlation-Id',
  causationId: 'Chronicle-Causation-Id',
  schemaVersion: 'Chronicle-Schema-Version',
} as const;

/** The header JetStream dedupes on. */
export const MSG_ID = 'Nats-Msg-Id';

// Characters a subject token may hold as they are; everything else is escaped, so a stream id or type with a dot,
// a space, `*` or `>` can never split or widen a subject.
const PLAIN = /^[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One subject token for `value`: letters, digits, `_` and `-` stay as they are; any other character becomes `~` and
 * the hex of its UTF-8 bytes (`order.v2` → `order~2ev2`); the empty string is `~`.
 */
export function subjectToken(value: string): string {
  if (value === '') return '~';
  if (PLAIN.test(value)) return value;
  let out = '';
  for (const ch of value) {
    if (/[A-Za-z0-9_-]/.test(ch)) out += ch;
    else for (const byte of encoder.encode(ch)) out += `~${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** `<prefix>.<category>.<type>`, each of the last two as a subject token. */
export function subjectOf(prefix: string, event: Pick<RecordedEvent, 'streamId' | 'type'>): string {
  return `${prefix}.${subjectToken(categoryOf(event.streamId))}.${subjectToken(event.type)}`;
}

/**
 * A subject prefix: one or more tokens joined by dots, each of letters, digits, `_` and `-`.
 * @throws INVALID_ARGUMENT otherwise
 */
export function assertSubjectPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !prefix.split('.').every((token) => PLAIN.test(token)) || prefix.length > 200) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `subjectPrefix must be dot-separated tokens of letters, digits, _ and - (at most 200 characters); got ${JSON.stringify(prefix)}`,
    );
  }
}

/** The headers of one event's message. */
export function eventHeaders(event: RecordedEvent): MsgHdrs {
  const h = natsHeaders();
  h.set(MSG_ID, event.id);
  h.set(EventHeaders.position, String(event.position));
  h.set(EventHeaders.streamId, event.streamId);
  h.set(EventHeaders.version, String(event.version));
  h.set(EventHeaders.type, event.type);
  if (typeof event.metadata.correlationId === 'string') h.set(EventHeaders.correlationId, event.metadata.correlationId);
  if (typeof event.metadata.causationId === 'string') h.set(EventHeaders.causationId, event.metadata.causationId);
  h.set(EventHeaders.schemaVersion, String(event.metadata.schemaVersion ?? 1));
  return h;
}

/** The body of one event's message: the whole stored event as JSON (the headers repeat what routing needs). */
export function eventBody(event: RecordedEvent): Uint8Array {
  const { id, type, streamId, version, position, tags, metadata, data } = event;
  return encoder.encode(JSON.stringify({ id, type, streamId, version, position, tags, metadata, data }));
}

/** The position a message's headers carry, or undefined when it has none (a message not published by a relay). */
export function positionOf(headers: MsgHdrs | undefined): number | undefined {
  const raw = headers?.get(EventHeaders.position);
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * The stored event a message carries. @throws INVALID_ARGUMENT when the body is not an event a relay published (a
 * foreign message on the stream's subjects), naming the subject and stream sequence so an operator can find it
 */
export function decodeEvent(body: Uint8Array, where: { subject: string; seq: number }): RecordedEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (err) {
    throw notAnEvent(where, 'its body is not JSON', err);
  }
  const e = parsed as Partial<RecordedEvent> | null;
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.id !== 'string' ||
    typeof e.type !== 'string' ||
    typeof e.streamId !== 'string' ||
    !Number.isSafeInteger(e.version) ||
    !Number.isSafeInteger(e.position) ||
    (e.position as number) < 1 ||
    typeof e.metadata !== 'object' ||
    e.metadata === null ||
    !Array.isArray(e.tags) ||
    !('data' in e)
  ) {
    throw notAnEvent(where, 'its body lacks the fields of a stored event');
  }
  return e as RecordedEvent;
}

function notAnEvent(where: { subject: string; seq: number }, why: string, cause?: unknown): ChronicleError {
  return new ChronicleError(
    'INVALID_ARGUMENT',
    `JetStream message ${where.seq} on ${where.subject} is not a Chronicle event: ${why}`,
    {
      cause,
      details: { subject: where.subject, streamSequence: where.seq },
    },
  );
}
