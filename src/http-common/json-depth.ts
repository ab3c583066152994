// How deep JSON nests: bounded so a client cannot make the server recurse without limit.

/** Nesting limit for request bodies and JSON in query strings, unless configured. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** True when `value` nests objects/arrays deeper than `limit`; stops as soon as it knows. */
export function deeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (deeperThan(item, limit - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (deeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  }
  return false;
}
