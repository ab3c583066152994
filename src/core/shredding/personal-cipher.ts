// How personal fields are stored: the leaf values (strings, numbers, booleans) under an event's personal fields are
// encrypted together, as one JSON array, with AES-256-GCM (the subject id as associated data: one AES operation per
// event), and each leaf is replaced by `shred:v1:<kind>:<index>` (its JSON type and its place in the array). The
// event's metadata says whose key and holds the rest: `personal: { v, subject, key, fields, iv, tag, data }` (base64url).
// Objects and arrays keep their shape (keys are structure, not data), so a redacted event still has the shape its
// schema describes.
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
  /** AES-GCM's IV, tag and ciphertext of the leaves, base64url. */
  iv: string;
  tag: string;
  data: string;
  /** Set on read when the key is gone: the fields hold the placeholders. */
  forgotten?: true;
};

const PREFIX = 'shred:v1:';
type Leaf = string | number | boolean;
const KINDS = { s: 'string', n: 'number', b: 'boolean' } as const;
type Kind = keyof typeof KINDS;
const PLACEHOLDER: Record<Kind, Leaf> = { s: FORGOTTEN, n: 0, b: false };
const kindOf = (value: Leaf): Kind => (typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : 'b');

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

/**
 * `data` with the leaves under the fields at `paths` replaced by references, and the personal metadata holding them
 * encrypted by `key`; undefined when none of the fields is present.
 */
export function encryptFields(
  data: unknown,
  paths: readonly (readonly string[])[],
  subject: string,
  key: SubjectKey,
): { data: unknown; personal: PersonalMetadata } | undefined {
  const fields: string[][] = [];
  const leaves: Leaf[] = [];
  let result = data;
  for (const path of paths) {
    if (getPath(result, path) === undefined) continue;
    fields.push([...path]);
    result = atPath(result, path, (value) => mapLeaves(value, (leaf) => `${PREFIX}${kindOf(leaf)}:${leaves.push(leaf) - 1}`));
  }
  if (fields.length === 0) return undefined;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(subject, 'utf8'));
  const body = Buffer.concat([cipher.update(JSON.stringify(leaves), 'utf8'), cipher.final()]);
  const personal: PersonalMetadata = {
    v: 1,
    subject,
    key: key.id,
    fields,
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    data: body.toString('base64url'),
  };
  return { data: result, personal };
}

/** The personal metadata of a stored event, if it has well-formed one. */
export function personalMetadataOf(event: RecordedEvent): PersonalMetadata | undefined {
  const p = event.metadata?.personal as PersonalMetadata | undefined;
  if (typeof p !== 'object' || p === null || p.v !== 1) return undefined;
  if (typeof p.subject !== 'string' || typeof p.key !== 'string' || !Array.isArray(p.fields)) return undefined;
  if (typeof p.iv !== 'string' || typeof p.tag !== 'string' || typeof p.data !== 'string') return undefined;
  return p;
}

/**
 * The event with its personal fields decrypted by `key`, or redacted to placeholders when `key` is undefined (or is
 * another key of the subject: the one it was written with was forgotten).
 * @throws STORE_ERROR the fields do not decrypt with their key (altered or corrupt)
 */
export function decryptEvent(event: RecordedEvent, personal: PersonalMetadata, key: SubjectKey | undefined): RecordedEvent {
  const usable = key !== undefined && key.id === personal.key ? key : undefined;
  let values: unknown[] | undefined;
  try {
    if (usable !== undefined) {
      const decipher = createDecipheriv('aes-256-gcm', usable.key, Buffer.from(personal.iv, 'base64url'));
      decipher.setAAD(Buffer.from(personal.subject, 'utf8'));
      decipher.setAuthTag(Buffer.from(personal.tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(personal.data, 'base64url')), decipher.final()]);
      values = JSON.parse(plain.toString('utf8')) as unknown[];
      if (!Array.isArray(values)) throw new Error('not an array of values');
    }
  } catch (err) {
    throw new ChronicleError(
      'STORE_ERROR',
      `event at position ${event.position} (stream ${event.streamId}): its personal fields do not decrypt with their key`,
      { details: { eventId: event.id, streamId: event.streamId, position: event.position }, cause: err },
    );
  }
  const restore = (leaf: Leaf): unknown => {
    if (typeof leaf !== 'string' || !leaf.startsWith(PREFIX)) return leaf;
    const [kind, index] = leaf.slice(PREFIX.length).split(':');
    if (values === undefined) return PLACEHOLDER[kind as Kind] ?? FORGOTTEN;
    return values[Number(index)];
  };
  let data: unknown = event.data;
  for (const path of personal.fields) data = atPath(data, path, (value) => mapLeaves(value, restore));
  if (usable !== undefined) return { ...event, data };
  return { ...event, data, metadata: { ...event.metadata, personal: { ...personal, forgotten: true } } };
}
