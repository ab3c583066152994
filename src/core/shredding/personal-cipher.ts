// How personal fields are stored: each leaf value (string, number, boolean) under a personal field becomes one
// string, `shred:v1:<kind>:<iv>:<tag>:<ciphertext>` (AES-256-GCM, base64url parts, the subject id as associated data),
// and the event's metadata says whose key (`personal: { v, subject, key, fields }`). Objects and arrays keep their
// shape (keys are structure, not data), so a redacted event still has the shape its schema describes.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import type { SubjectKey } from './subject-key-store.js';

/** What a forgotten subject's personal strings read as. Numbers read as 0 and booleans as false. */
export const FORGOTTEN = '[forgotten]';

/** The metadata an event with encrypted fields carries (`metadata.personal`). */
export type PersonalMetadata = {
  /** Format version of the encrypted fields: 1. */
  v: 1;
  /** Whose key encrypted them. */
  subject: string;
  /** Which of the subject's keys (a subject forgotten and written again has a new one). */
  key: string;
  /** Paths of the encrypted fields. */
  fields: string[][];
  /** Set on read when the key is gone: the fields hold the placeholders. */
  forgotten?: true;
};

const PREFIX = 'shred:v1:';
type Leaf = string | number | boolean;
const KINDS = { s: 'string', n: 'number', b: 'boolean' } as const;
type Kind = keyof typeof KINDS;
const PLACEHOLDER: Record<Kind, Leaf> = { s: FORGOTTEN, n: 0, b: false };
const kindOf = (value: Leaf): Kind => (typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : 'b');

function encryptLeaf(value: Leaf, key: SubjectKey, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return `${PREFIX}${kindOf(value)}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${body.toString('base64url')}`;
}

function decryptLeaf(stored: string, key: SubjectKey | undefined, aad: Buffer): unknown {
  const [kind, iv, tag, body] = stored.slice(PREFIX.length).split(':');
  if (key === undefined) return PLACEHOLDER[kind as Kind] ?? FORGOTTEN;
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8'));
}

// Every leaf under `value` through `leaf`, objects and arrays rebuilt (never mutated); null and undefined stay.
function mapLeaves(value: unknown, leaf: (v: Leaf) => unknown): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, leaf));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapLeaves(v, leaf)]));
  }
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? leaf(value) : value;
}

// `data` with the value at `path` replaced by `change(value)`; the same object when the path is absent.
function atPath(data: unknown, path: readonly string[], change: (value: unknown) => unknown): unknown {
  if (path.length === 0) return change(data);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  const [head, ...rest] = path;
  if (!Object.hasOwn(data, head)) return data;
  const record = data as Record<string, unknown>;
  return { ...record, [head]: atPath(record[head], rest, change) };
}

const getPath = (data: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, k) ? (v as never)[k] : undefined),
    data,
  );

/** `data` with the fields at `paths` encrypted by `key`, and the paths that were present (the metadata's `fields`). */
export function encryptFields(
  data: unknown,
  paths: readonly (readonly string[])[],
  subject: string,
  key: SubjectKey,
): { data: unknown; fields: string[][] } {
  const aad = Buffer.from(subject, 'utf8');
  const fields: string[][] = [];
  let result = data;
  for (const path of paths) {
    if (getPath(result, path) === undefined) continue;
    fields.push([...path]);
    result = atPath(result, path, (value) => mapLeaves(value, (leaf) => encryptLeaf(leaf, key, aad)));
  }
  return { data: result, fields };
}

/** The personal metadata of a stored event, if it has well-formed one. */
export function personalMetadataOf(event: RecordedEvent): PersonalMetadata | undefined {
  const p = event.metadata?.personal as PersonalMetadata | undefined;
  if (typeof p !== 'object' || p === null || p.v !== 1) return undefined;
  if (typeof p.subject !== 'string' || typeof p.key !== 'string' || !Array.isArray(p.fields)) return undefined;
  return p;
}

/**
 * The event with its personal fields decrypted by `key`, or redacted to placeholders when `key` is undefined (or is
 * another key of the subject: the one it was written with was forgotten).
 * @throws STORE_ERROR a field does not decrypt with its key (altered or corrupt)
 */
export function decryptEvent(event: RecordedEvent, personal: PersonalMetadata, key: SubjectKey | undefined): RecordedEvent {
  const usable = key !== undefined && key.id === personal.key ? key : undefined;
  const aad = Buffer.from(personal.subject, 'utf8');
  let data: unknown = event.data;
  try {
    for (const path of personal.fields) {
      data = atPath(data, path, (value) =>
        mapLeaves(value, (leaf) => (typeof leaf === 'string' && leaf.startsWith(PREFIX) ? decryptLeaf(leaf, usable, aad) : leaf)),
      );
    }
  } catch (err) {
    throw new ChronicleError(
      'STORE_ERROR',
      `event at position ${event.position} (stream ${event.streamId}): a personal field does not decrypt with its key`,
      { details: { eventId: event.id, streamId: event.streamId, position: event.position }, cause: err },
    );
  }
  if (usable !== undefined) return { ...event, data };
  return { ...event, data, metadata: { ...event.metadata, personal: { ...personal, forgotten: true } } };
}
