// Query-string values are all strings; coerce them by the query's JSON Schema, compiled once per query.
import { DEFAULT_MAX_JSON_DEPTH, deeperThan } from './json-depth.js';

type Schema = Record<string, unknown>;
type Coerce = (value: unknown) => unknown;

/** Turns a parsed query string into a payload for a query whose input JSON Schema is `schema`. */
export type QueryStringCoercer = (query: Readonly<Record<string, unknown>>) => Record<string, unknown>;

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Compiles a coercer from a JSON Schema (draft-7, as `toJsonSchema` gives): per top-level property,
 * a string becomes a number/integer, boolean (`true|false|1|0`) or null (`null`) where the schema
 * allows that and not the string itself; repeated keys or a single value fill arrays (items coerced);
 * objects accept JSON text; an empty value for a property that takes no string counts as absent.
 * Anything that does not fit stays as it is, so validation reports it.
 */
export function createQueryStringCoercer(schema: Schema): QueryStringCoercer {
  const root = schema;
  const properties = (root.type === 'object' || root.properties) && isSchema(root.properties) ? root.properties : {};
  const plans = new Map<string, Coerce>();
  for (const [key, property] of Object.entries(properties)) plans.set(key, compile(property, root));
  const extra = isSchema(root.additionalProperties) ? compile(root.additionalProperties, root) : undefined;

  return (query) => {
    // A null-prototype object: a `__proto__` key stays an own key for validation to reject.
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(query)) {
      const plan = plans.get(key) ?? (RESERVED.has(key) ? undefined : extra);
      const value = plan ? plan(query[key]) : query[key];
      if (value !== undefined) out[key] = value;
    }
    return out;
  };
}

type Branch = { types: Set<string>; values?: readonly unknown[]; items?: Schema };

function compile(schema: unknown, root: Schema): Coerce {
  const branches = branchesOf(schema, root, 0);
  if (branches.length === 0) return (v) => v;
  const acceptsString = (s: string) =>
    branches.some((b) => (b.values ? b.values.includes(s) : b.types.has('string') || b.types.size === 0));
  const takesAnyString = branches.some((b) => !b.values && (b.types.has('string') || b.types.size === 0));
  const number = branches.some(
    (b) => b.types.has('number') || b.types.has('integer') || b.values?.some((x) => typeof x === 'number'),
  );
  const boolean = branches.some((b) => b.types.has('boolean') || b.values?.some((x) => typeof x === 'boolean'));
  const nullable = branches.some((b) => b.types.has('null') || b.values?.includes(null));
  const object = branches.some((b) => b.types.has('object'));
  const arrayBranch = branches.find((b) => b.types.has('array'));
  const item = arrayBranch?.items ? compile(arrayBranch.items, root) : (v: unknown) => v;

  const scalar = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    if (acceptsString(v)) return v;
    if (v === '' && !takesAnyString) return undefined;
    if (number && NUMBER.test(v)) return Number(v);
    if (boolean && (v === 'true' || v === '1')) return true;
    if (boolean && (v === 'false' || v === '0')) return false;
    if (nullable && v === 'null') return null;
    if (object && v.startsWith('{') && !v.includes('__proto__')) {
      try {
        const parsed: unknown = JSON.parse(v);
        // Too deep stays a string, which validation then refuses, as it refuses such a body.
        return deeperThan(parsed, DEFAULT_MAX_JSON_DEPTH) ? v : parsed;
      } catch {
        return v;
      }
    }
    return v;
  };

  if (!arrayBranch) return scalar;
  const onlyArray = branches.length === 1;
  return (v) => {
    if (Array.isArray(v)) return v.map((x) => item(x));
    // One value for an array property is a one-element array, unless another branch takes it as is.
    if (onlyArray || scalar(v) === v) return typeof v === 'string' && v === '' ? [] : [item(v)];
    return scalar(v);
  };
}

function branchesOf(schema: unknown, root: Schema, depth: number): Branch[] {
  if (!isSchema(schema) || depth > 8) return [];
  const ref = typeof schema.$ref === 'string' ? resolve(schema.$ref, root) : undefined;
  if (ref) return branchesOf(ref, root, depth + 1);
  const alternatives = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(alternatives)) return alternatives.flatMap((s) => branchesOf(s, root, depth + 1));
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) return branchesOf(schema.allOf[0], root, depth + 1);
  const type = schema.type;
  const types = new Set<string>(typeof type === 'string' ? [type] : Array.isArray(type) ? type.map(String) : []);
  const values = 'const' in schema ? [schema.const] : Array.isArray(schema.enum) ? schema.enum : undefined;
  return [{ types, values, items: isSchema(schema.items) ? schema.items : undefined }];
}

function resolve(ref: string, root: Schema): Schema | undefined {
  if (ref === '#') return root;
  const match = /^#\/definitions\/(.+)$/.exec(ref);
  const definitions = root.definitions;
  if (!match || !isSchema(definitions)) return undefined;
  const found = definitions[match[1]];
  return isSchema(found) ? found : undefined;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
