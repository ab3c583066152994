// The relay's JetStream stream: its settings, whether an existing stream's subjects cover the relay's prefix, and
// creating it when missing. An existing stream is used as it is: its configuration is never changed here.
import { type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { ChronicleError } from 'chronicle-es';
import { jetStreamCode, natsError, STREAM_NOT_FOUND } from './nats-error.js';

/** A stream by name, with the settings the relay creates it with when it is missing (ignored when it exists). */
export type JetStreamStreamOptions = {
  name: string;
  /** `limits` (default): kept until a limit drops it; `interest`: until every consumer acked; `workqueue`: until one did. */
  retention?: 'limits' | 'interest' | 'workqueue';
  /** Oldest message kept, in ms. Default unlimited. */
  maxAgeMs?: number;
  /** Most bytes kept. Default unlimited. */
  maxBytes?: number;
  /** Most messages kept. Default unlimited. */
  maxMsgs?: number;
  /** Default `file`. */
  storage?: 'file' | 'memory';
  /** Copies in a cluster, 1 to 5. Default 1. */
  replicas?: number;
  /** How long JetStream remembers a message id to drop a repeat, in ms. Default the server's (2 minutes). */
  duplicateWindowMs?: number;
};

/** Names JetStream accepts for streams and consumers: 1-255 characters, no whitespace, subject or path separators, wildcards. */
export const JETSTREAM_NAME = /^[^\s.*>/\\]{1,255}$/u;
const RETENTION = { limits: RetentionPolicy.Limits, interest: RetentionPolicy.Interest, workqueue: RetentionPolicy.Workqueue };
const STORAGE = { file: StorageType.File, memory: StorageType.Memory };
const NANOS_PER_MS = 1_000_000;

// JetStream's refusals of the stream's configuration itself (server/errors.json): the same request can never succeed,
// so the relay fails and names the cause. Every other code is the server's state (JetStream temporarily unavailable,
// insufficient resources, no peers for placement, a cluster without a leader, account limits) and is retried.
const CONFIG_REFUSALS = new Set([
  10003, // bad request
  10025, // invalid JSON
  10052, // invalid stream configuration ("duplicates window can not be larger then max age"…)
  10056, // stream name in subject does not match request
  10065, // subjects overlap with an existing stream
  10074, // replicas > 1 not supported in non-clustered mode
  10113, // account requires a stream config to have max bytes set
  10122, // stream max bytes exceeds account limit max stream bytes
  10128, // stream name can not contain path separators
  10133, // replicas count cannot be negative
]);

/**
 * The stream options in full, `stream` given as a name or as options.
 * @throws INVALID_ARGUMENT a bad name or setting, naming it
 */
export function streamOptions(stream: unknown): JetStreamStreamOptions {
  const options = (typeof stream === 'string' ? { name: stream } : stream) as JetStreamStreamOptions | null;
  const bad = (what: string, value: unknown): never => {
    throw new ChronicleError('INVALID_ARGUMENT', `stream ${what}; got ${JSON.stringify(value)}`, {
      details: { option: 'stream' },
    });
  };
  if (typeof options !== 'object' || options === null) return bad('must be a stream name or { name, ... }', stream);
  const { name, retention, storage, replicas } = options;
  if (typeof name !== 'string' || !JETSTREAM_NAME.test(name)) {
    bad('name must be 1 to 255 characters without whitespace, ".", "*", ">", "/" or "\\"', name);
  }
  if (retention !== undefined && !Object.hasOwn(RETENTION, retention)) {
    bad('retention must be limits, interest or workqueue', retention);
  }
  if (storage !== undefined && !Object.hasOwn(STORAGE, storage)) bad('storage must be file or memory', storage);
  if (replicas !== undefined && !(Number.isSafeInteger(replicas) && replicas >= 1 && replicas <= 5)) {
    bad('replicas must be an integer from 1 to 5', replicas);
  }
  for (const key of ['maxAgeMs', 'maxBytes', 'maxMsgs', 'duplicateWindowMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) bad(`${key} must be a positive integer`, value);
  }
  if (options.maxAgeMs !== undefined && options.duplicateWindowMs !== undefined && options.duplicateWindowMs > options.maxAgeMs) {
    bad('duplicateWindowMs must not exceed maxAgeMs', options.duplicateWindowMs);
  }
  return { ...options };
}

/** What JetStream is asked to create for `options`, its subjects `<prefix>.>`. */
export function streamConfig(options: JetStreamStreamOptions, prefix: string): Partial<StreamConfig> & { name: string } {
  const config: Partial<StreamConfig> & { name: string } = {
    name: options.name,
    subjects: [`${prefix}.>`],
    retention: RETENTION[options.retention ?? 'limits'],
    storage: STORAGE[options.storage ?? 'file'],
    num_replicas: options.replicas ?? 1,
  };
  if (options.maxAgeMs !== undefined) config.max_age = options.maxAgeMs * NANOS_PER_MS;
  if (options.maxBytes !== undefined) config.max_bytes = options.maxBytes;
  if (options.maxMsgs !== undefined) config.max_msgs = options.maxMsgs;
  if (options.duplicateWindowMs !== undefined) config.duplicate_window = options.duplicateWindowMs * NANOS_PER_MS;
  return config;
}

/**
 * Whether one of `subjects` (a stream's, wildcards allowed) matches every `<prefix>.<token>.<token>`, the subjects a
 * relay publishes to: `shop.>`, `shop.events.>`, `shop.events.*.*`, `>` and `*.*.*` cover `shop.events`;
 * `shop.events.order.*` or `shop.events.*` do not. A union of subjects cannot cover what none covers alone: each
 * leaves out every token but its own literals.
 */
export function subjectsCover(subjects: readonly string[], prefix: string): boolean {
  const wanted = prefix.split('.');
  const length = wanted.length + 2;
  return subjects.some((subject) => {
    const tokens = subject.split('.');
    for (let i = 0; i < length; i++) {
      const token = tokens[i];
      if (token === '>') return i === tokens.length - 1;
      if (token === undefined) return false;
      if (token !== '*' && (i >= wanted.length || token !== wanted[i])) return false;
    }
    return tokens.length === length;
  });
}

/**
 * The stream's info, after creating it with `streamConfig(options, prefix)` if it is missing.
 * @throws INVALID_ARGUMENT when its subjects do not cover the prefix (naming the stream, its subjects and the prefix),
 *   or JetStream refuses its configuration (its subjects overlap another stream's, replicas on a single server, an
 *   account that requires max bytes…)
 * @throws STORE_ERROR when NATS fails otherwise (not reachable, timed out, JetStream temporarily unavailable,
 *   insufficient resources, an account limit reached): a later attempt may succeed
 */
export async function ensureStream(jsm: JetStreamManager, options: JetStreamStreamOptions, prefix: string): Promise<StreamInfo> {
  const info = (await streamInfo(jsm, options.name)) ?? (await createStream(jsm, options, prefix));
  const subjects = info.config.subjects ?? [];
  if (!subjectsCover(subjects, prefix)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `JetStream stream ${options.name} has subjects ${JSON.stringify(subjects)}, which do not cover ${prefix}.<category>.<type>: ` +
        `the relay with subjectPrefix ${prefix} cannot publish into it (give it ${prefix}.> or use another stream)`,
      { details: { stream: options.name, subjects, subjectPrefix: prefix } },
    );
  }
  return info;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (jetStreamCode(err) === STREAM_NOT_FOUND) return undefined;
    throw natsError(err, `stream info ${name}`);
  }
}

async function createStream(jsm: JetStreamManager, options: JetStreamStreamOptions, prefix: string): Promise<StreamInfo> {
  const config = streamConfig(options, prefix);
  try {
    return await jsm.streams.add(config);
  } catch (err) {
    const code = jetStreamCode(err);
    // 10058: created meanwhile (another relay starting at the same time): use that one, checked like any other.
    if (code === 10058) {
      const info = await streamInfo(jsm, options.name);
      if (info) return info;
    }
    if (code === undefined || !CONFIG_REFUSALS.has(code)) throw natsError(err, `create stream ${options.name}`);
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `JetStream refused to create stream ${options.name} with subjects ${config.subjects?.join(', ')}: ${(err as Error).message}`,
      { cause: err, details: { stream: options.name, subjectPrefix: prefix, jetStreamCode: code } },
    );
  }
}
