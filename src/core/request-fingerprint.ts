// A digest of a command, stored with its idempotency key so the key cannot be reused for a different request.
import { createHash } from 'node:crypto';

/**
 * SHA-256 (base64url) of the command's type and data as canonical JSON: object keys sorted, so key order never
 * matters; values as JSON would send them (`toJSON` honoured, so two Dates differ), bigints, Maps and Sets tagged so
 * they never collide with plain values.
 */
export function requestFingerprint(type: string, data: unknown): string {
  return createHash('sha256').update(type).update('\n').update(canonicalJson(data, new Set())).digest('base64url');
}

function canonicalJson(value: unknown, seen: Set<object>): string {
  if (typeof value === 'bigint') return `{"$bigint":"${value}"}`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (seen.has(value)) return '"$cycle"';
  seen.add(value);
  try {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return canonicalJson(toJSON.call(value), seen);
    if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, seen)).join(',')}]`;
    if (value instanceof Map) {
      const entries = [...value].map(([k, v]) => `[${canonicalJson(k, seen)},${canonicalJson(v, seen)}]`).sort();
      return `{"$map":[${entries.join(',')}]}`;
    }
    if (value instanceof Set)
      return `{"$set":[${[...value]
        .map((v) => canonicalJson(v, seen))
        .sort()
        .join(',')}]}`;
    const record = value as Record<string, unknown>;
    const entries = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key], seen)}`);
    return `{${entries.join(',')}}`;
  } finally {
    seen.delete(value);
  }
}
