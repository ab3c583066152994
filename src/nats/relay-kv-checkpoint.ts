// A relay's checkpoint in a JetStream KV bucket, for a relay whose event store and read store should not hold it.
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { ChronicleError, type RelayCheckpoint } from 'chronicle-es';
import { jetStreamCode, natsError } from './nats-error.js';

export type JetStreamKvCheckpointOptions = {
  nats: NatsConnection;
  /** The bucket (created, keeping one revision per key, if missing): letters, digits, `_` and `-`. */
  bucket: string;
  /** The key within it: letters, digits and `-/_=.`, not starting or ending with `.`. */
  key: string;
  /** How long a KV request may take, in ms. Default 5000. */
  timeoutMs?: number;
};

const BUCKET = /^[-\w]{1,255}$/;
const KEY = /^[-/=.\w]{1,1024}$/;
// KV's refusal of a put whose expected revision is not the key's last: another writer got there first.
const WRONG_REVISION = 10071;

/**
 * A RelayCheckpoint stored under `key` in the KV bucket `bucket`. Every save is a compare-and-set on the key's
 * revision, so two relays sharing one never move it back.
 * @throws INVALID_ARGUMENT a bad bucket, key or timeout
 */
export function jetStreamKvCheckpoint(options: JetStreamKvCheckpointOptions): RelayCheckpoint {
  const { nats, bucket, key, timeoutMs = 5000 } = options ?? ({} as JetStreamKvCheckpointOptions);
  if (!nats || typeof nats.request !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'jetStreamKvCheckpoint needs a NatsConnection (`nats`)');
  }
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) {
    throw new ChronicleError('INVALID_ARGUMENT', `KV bucket must be letters, digits, _ and -; got ${JSON.stringify(bucket)}`);
  }
  if (typeof key !== 'string' || !KEY.test(key) || key.startsWith('.') || key.endsWith('.')) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `KV key must be letters, digits and -/_=. (not starting or ending with .); got ${JSON.stringify(key)}`,
    );
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'timeoutMs must be a positive integer');
  }
  let kv: Promise<KV> | undefined;
  const open = () => {
    kv ??= new Kvm(jetstream(nats, { timeout: timeoutMs })).create(bucket, { history: 1 }).catch((err) => {
      kv = undefined;
      throw natsError(err, `open KV bucket ${bucket}`);
    });
    return kv;
  };
  // The key's value and revision as last seen: the expectation of the next put.
  let known: { position: number; revision: number } | undefined;

  async function read(): Promise<{ position: number; revision: number }> {
    const bucketKv = await open();
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await bucketKv.get(key);
    } catch (err) {
      throw natsError(err, `get ${key} from KV bucket ${bucket}`);
    }
    if (!entry) return { position: 0, revision: 0 };
    // A deleted or purged key keeps a revision: the next put must expect it.
    if (entry.operation !== 'PUT') return { position: 0, revision: entry.revision };
    const position = Number(entry.string());
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `KV bucket ${bucket} key ${key} holds ${JSON.stringify(entry.string())}, not a checkpoint position`,
      );
    }
    return { position, revision: entry.revision };
  }

  return {
    async load() {
      known = await read();
      return known.position;
    },
    async save(position) {
      if (!Number.isSafeInteger(position) || position < 0) {
        throw new ChronicleError('INVALID_ARGUMENT', `checkpoint position must be a non-negative integer; got ${position}`);
      }
      const bucketKv = await open();
      for (;;) {
        known ??= await read();
        if (position <= known.position) return;
        try {
          const revision = await bucketKv.put(key, String(position), { previousSeq: known.revision });
          known = { position, revision };
          return;
        } catch (err) {
          if (jetStreamCode(err) !== WRONG_REVISION) throw natsError(err, `put ${key} in KV bucket ${bucket}`);
          // Another writer moved it: read it again, and stop if it is already at or past `position`.
          known = undefined;
        }
      }
    },
  };
}
