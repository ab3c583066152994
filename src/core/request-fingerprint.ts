// A digest of a command, stored with its idempotency key so the key cannot be reused for a different request.
import { createHash } from 'node:crypto';

/** SHA-256 (base64url) of the command's type and data as canonical JSON: object keys sorted, so key order never matters. */
export function requestFingerprint(type: string, data: unknown): string {
  return createHash('sha256').update(type).update('\n').update(canonicalJson(data)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}
