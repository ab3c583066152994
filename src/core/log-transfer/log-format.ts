// The NDJSON form of an exported event log, and the reader that checks a file line by line before anything is written.
import { ChronicleError } from '../errors.js';
import type { EventMetadata } from '../event-store.js';
import { assertStreamId, prepareEvent } from '../store-kit.js';

/** The `format` of every file this unit writes. */
export const LOG_FORMAT = 'chronicle-log';
/**
 * The version of the line layout below; a reader refuses any other. Event tags came in as an optional field, left out
 * when an event has none, so they kept version 1: files from before them import unchanged.
 */
export const LOG_FORMAT_VERSION = 1;

/** First line: what the file is, and the source's head when the export began (for progress). */
export type LogHeaderLine = {
  kind: 'header';
  format: typeof LOG_FORMAT;
  version: typeof LOG_FORMAT_VERSION;
  exportedAt: string;
  headPosition: number;
};

/** One event, in the source's position order. `position` is the source's; a target assigns its own. */
export type LogEventLine = {
  kind: 'event';
  position: number;
  streamId: string;
  version: number;
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  /** The event's tags; absent when it has none, as in every line written before events had tags. */
  tags?: string[];
};

/** A stream's state after its last event: one line per stream, after all events. */
export type LogStreamLine = {
  kind: 'stream';
  streamId: string;
  version: number;
  deleted: boolean;
  metadata: Record<string, unknown>;
};

/** Last line: its counts tell a complete file from one cut at a line boundary. */
export type LogEndLine = { kind: 'end'; events: number; streams: number };

export type LogLine = LogHeaderLine | LogEventLine | LogStreamLine | LogEndLine;

/** What a complete, checked file holds. */
export type LogSummary = { headPosition: number; events: number; streams: number };

/** Checks the lines of one file in order; holds what it needs to check the next (each stream's version). */
export type LogReader = {
  /** The next line, checked; undefined for a blank line after the end line. @throws INVALID_ARGUMENT */
  read(text: string): LogLine | undefined;
  /** After the last line. @throws INVALID_ARGUMENT when the file ended before its end line */
  finish(): LogSummary;
  /** The number of the line last read, from 1. */
  readonly line: number;
};

type Section = 'header' | 'events' | 'streams' | 'done';
// Per stream: its last version in the file, and whether its stream line has come.
type SeenStream = { version: number; described: boolean };

/** A reader for one file. */
export function createLogReader(): LogReader {
  let line = 0;
  let section: Section = 'header';
  let headPosition = 0;
  let lastPosition = 0;
  let events = 0;
  let described = 0;
  const streams = new Map<string, SeenStream>();

  const bad = (message: string, details: Record<string, unknown> = {}, cause?: unknown) =>
    new ChronicleError('INVALID_ARGUMENT', `line ${line}: ${message}`, { details: { line, ...details }, cause });

  function parse(text: string): Record<string, unknown> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw bad('not a JSON object (a truncated or damaged line?)', {}, err);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('not a JSON object');
    return value as Record<string, unknown>;
  }

  function header(o: Record<string, unknown>): LogHeaderLine {
    if (o.kind !== 'header' || o.format !== LOG_FORMAT) throw bad(`not a Chronicle log export (no ${LOG_FORMAT} header)`);
    if (o.version !== LOG_FORMAT_VERSION) {
      throw bad(
        `log format version ${JSON.stringify(o.version)} is not supported: this Chronicle reads version ${LOG_FORMAT_VERSION}`,
        { formatVersion: o.version },
      );
    }
    if (!isCount(o.headPosition) || typeof o.exportedAt !== 'string') throw bad('header needs headPosition and exportedAt');
    headPosition = o.headPosition;
    section = 'events';
    return o as LogHeaderLine;
  }

  function event(o: Record<string, unknown>): LogEventLine {
    if (!isCount(o.position) || o.position <= lastPosition) {
      throw bad(`event position must be an integer above the previous one (${lastPosition})`);
    }
    const streamId = checkedStreamId(o.streamId);
    const seen = streams.get(streamId);
    const expected = (seen?.version ?? 0) + 1;
    if (o.version !== expected) {
      throw bad(`stream ${JSON.stringify(streamId)} has version ${JSON.stringify(o.version)} here, expected ${expected}`, {
        streamId,
        expectedVersion: expected,
      });
    }
    if (!('data' in o)) throw bad('event has no data');
    const metadata = o.metadata as Partial<EventMetadata> | undefined;
    // Without its own timestamp a target would stamp the event with the time of the import.
    if (typeof metadata !== 'object' || metadata === null || typeof metadata.timestamp !== 'string') {
      throw bad('event metadata must be an object with the original timestamp');
    }
    if (typeof o.id !== 'string') throw bad('event needs its id');
    try {
      // The target's own checks (id, type, JSON data, metadata and tags), run now so a bad line is found before it is sent.
      prepareEvent(
        { id: o.id, type: o.type as string, data: o.data, metadata, tags: o.tags as string[] | undefined },
        metadata.timestamp,
      );
    } catch (err) {
      throw bad((err as Error).message, {}, err);
    }
    if (seen) seen.version = expected;
    else streams.set(streamId, { version: expected, described: false });
    lastPosition = o.position;
    events++;
    return o as LogEventLine;
  }

  function stream(o: Record<string, unknown>): LogStreamLine {
    const streamId = checkedStreamId(o.streamId);
    const seen = streams.get(streamId);
    if (!seen) throw bad(`stream ${JSON.stringify(streamId)} has no events in this file`, { streamId });
    if (seen.described) throw bad(`stream ${JSON.stringify(streamId)} is described twice`, { streamId });
    if (o.version !== seen.version) {
      throw bad(
        `stream ${JSON.stringify(streamId)} is at version ${JSON.stringify(o.version)} here, but its events end at ${seen.version}`,
        { streamId, expectedVersion: seen.version },
      );
    }
    if (typeof o.deleted !== 'boolean') throw bad('stream line needs deleted: true or false');
    if (typeof o.metadata !== 'object' || o.metadata === null || Array.isArray(o.metadata)) {
      throw bad('stream metadata must be an object');
    }
    seen.described = true;
    described++;
    return o as LogStreamLine;
  }

  function end(o: Record<string, unknown>): LogEndLine {
    if (o.events !== events || o.streams !== streams.size) {
      throw bad(`end line counts ${o.events} events and ${o.streams} streams; the file holds ${events} and ${streams.size}`);
    }
    if (described !== streams.size) throw bad(`${streams.size - described} streams have no stream line`);
    section = 'done';
    return o as LogEndLine;
  }

  function checkedStreamId(value: unknown): string {
    try {
      assertStreamId(value);
    } catch (err) {
      throw bad((err as Error).message, {}, err);
    }
    return value;
  }

  return {
    get line() {
      return line;
    },
    read(text) {
      line++;
      if (section === 'done') {
        if (text.trim() === '') return undefined;
        throw bad('text after the end line');
      }
      const o = parse(text);
      if (section === 'header') return header(o);
      switch (o.kind) {
        case 'event':
          if (section !== 'events') throw bad('an event after the stream lines');
          return event(o);
        case 'stream':
          section = 'streams';
          return stream(o);
        case 'end':
          return end(o);
        default:
          throw bad(`unknown line kind ${JSON.stringify(o.kind)}`);
      }
    },
    finish() {
      if (section !== 'done') {
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          `the file ends after line ${line} without its end line: it is truncated (export it again)`,
          { details: { line } },
        );
      }
      return { headPosition, events, streams: streams.size };
    },
  };
}

/**
 * Reads a whole file and checks every line, writing nothing: run it before an import so a bad file changes nothing.
 * @throws INVALID_ARGUMENT for the first bad line, a file of another format version, or a truncated file
 */
export async function scanLog(lines: AsyncIterable<string> | Iterable<string>): Promise<LogSummary> {
  const reader = createLogReader();
  for await (const text of lines) reader.read(text);
  return reader.finish();
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
